/**
 * A VM's first container costs the guest far more than the next ones: under TCG the first
 * CreateContainer took 263–327 ms against 75–168 for later ones (ARCHITECTURE.md, "The warm
 * pool"), spent on code run for the first time — the agent's planning, launch, start and exit
 * code, the launcher, the kernel's namespace, overlay, mount, exec and exit paths, and QEMU's
 * translation of all of them. warmUp() pays that once, ahead of any container: it creates a
 * throwaway container the way containerd specs one (the default mounts, masked and read-only
 * paths, capabilities, namespaces) on an overlay of empty tmpfs dirs, runs `true` in it (the
 * guest's own busybox, bound in read-only), drains its output, waits for its exit and removes it.
 * Its mounts lived in its own mount namespace and went with it; its cgroup and dirs are removed
 * here. It is for a VM without container shares (a template's); a pool VM runs its warm-up
 * container through the agent's API on its shares instead (shim/src/pool/warm_up.ts), which also
 * covers the request handling, the output relay and overlayfs on virtio-fs.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { containerdDefaultSpec, GUEST_BUSYBOX, type OciSpec } from '@vfs/contracts';
import { parseSpec } from '../oci/container_spec';
import { Container } from './container';
import { ContainerError } from './errors';

/** On the guest's /run tmpfs, beside the rootfs stage. */
const WARM_UP_PARENT = '/run/vfs';
const PROGRAM = '/bin/true';

export interface WarmedUp {
  readonly containerId: string;
  /** The guest pid its init had. */
  readonly pid: number;
  /** Its init's exit status: 0, or the warm-up fails. */
  readonly exitStatus: number;
}

/** containerd's default Linux spec; the mounts are the ones the agent adds to any spec (mounts.ts). */
function warmUpSpec(): OciSpec {
  return containerdDefaultSpec(
    [PROGRAM],
    [{ destination: PROGRAM, type: 'bind', source: GUEST_BUSYBOX, options: ['rbind', 'ro'] }],
  );
}

/** What a failed run said last: enough to name the cause. */
const STDERR_TAIL_BYTES = 512;

/** Reads a stream to its end (the process's side closes at its exit); the last bytes it held. */
async function drain(stream: Readable | undefined): Promise<string> {
  if (stream === undefined) return '';
  let tail = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    tail = Buffer.concat([tail, chunk]).subarray(-STDERR_TAIL_BYTES);
  }
  return tail.toString('utf8');
}

/**
 * Creates, runs and removes a throwaway container. Resolves once its process has exited with 0,
 * its output ended, and its cgroup and dirs are gone; on a failure whatever is left stays (the
 * caller discards the VM).
 */
export async function warmUp(launcherPath: string): Promise<WarmedUp> {
  const containerId = `vfs-warm-up-${randomBytes(6).toString('hex')}`;
  const dir = join(WARM_UP_PARENT, containerId);
  try {
    // An empty lower dir: the launcher makes the mount points in the upper one.
    for (const sub of ['lower', 'upper', 'work']) mkdirSync(join(dir, sub), { recursive: true });
    const container = await Container.create(
      {
        id: containerId,
        spec: parseSpec(warmUpSpec()),
        rootfs: {
          kind: 'overlay',
          lowerDirs: [join(dir, 'lower')],
          upperDir: join(dir, 'upper'),
          workDir: join(dir, 'work'),
        },
      },
      { launcherPath },
    );
    const { pid, io } = container.init;
    container.init.closeStdin();
    await container.start();
    const [exit, , stderr] = await Promise.all([container.wait(), drain(io.stdout), drain(io.stderr)]);
    if (exit.status !== 0) {
      const said = stderr.trim() === '' ? '' : `: ${stderr.trim()}`;
      throw new ContainerError('LAUNCH_FAILED', `${PROGRAM} exited with ${exit.status}${said}`, { containerId });
    }
    await container.delete();
    return { containerId, pid, exitStatus: exit.status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
