// The pool's warm-up: before a VM joins the pool, one throwaway container goes through the agent's
// API as a shim's first container would — CreateContainer with the spec `ctr run` makes, on an
// overlay in the VM's own container shares; its output read with ReadStdout/ReadStderr; Start,
// Wait, Remove. A VM's first container costs the guest far more than the next: code run (and under
// TCG translated) for the first time — the agent's request decoding, spec checks and planning, its
// output relay, the kernel's overlay-on-virtio-fs, exec and exit paths (ARCHITECTURE.md, "The warm
// pool"). Its program is the guest's own busybox, bound in read-only as `true`, so no image is
// needed. Its dirs are bound into the shares as a container's are, and unbound after it.

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONTAINERD_DEFAULT_MOUNTS, containerdDefaultSpec, GUEST_BUSYBOX, type OciSpec } from '@vfs/contracts';
import type { ReadStreamResponse, ShareRef } from '@vfs/proto/gen/agent/agent';
import { SandboxError } from '../sandbox_error';
import type { SandboxState } from '../sandbox_state';
import type { AgentClient } from '../vm_runtime/agent_dial';
import { bindContainerDirs, releaseContainerDirs } from '../vm_runtime/container_dirs';
import type { SandboxLayout } from '../vm_runtime/sandbox_layout';
import { type ContainerDir, DATA_TAG, LAYERS_TAG } from '../vm_runtime/share_plan';

const PROGRAM = '/bin/true';
/** What a failed run said last: enough to name the cause. */
const STDERR_TAIL_BYTES = 512;

/** containerd's default Linux spec (`ctr oci spec`), running the guest's busybox as `true`. */
function warmUpSpec(): OciSpec {
  return containerdDefaultSpec(
    [PROGRAM],
    [
      ...CONTAINERD_DEFAULT_MOUNTS,
      { destination: PROGRAM, type: 'bind', source: GUEST_BUSYBOX, options: ['rbind', 'ro'] },
    ],
  );
}

/** The warm-up container's overlay dirs, as the agent names them. */
export interface WarmUpRootfs {
  /** Empty: the launcher makes the mount points in the upper dir. */
  readonly lower: ShareRef;
  readonly upper: ShareRef;
  readonly work: ShareRef;
}

/** Where the warm-up container's dirs live while it runs. */
export interface WarmUpPlace {
  /** Makes the container's dirs where the guest sees them. */
  prepare(containerId: string): Promise<WarmUpRootfs>;
  /** Takes them out of the guest's reach; called whether the container ran or not. */
  release(containerId: string): Promise<void>;
}

export interface WarmedUp {
  readonly containerId: string;
  /** Its init's guest pid. */
  readonly pid: number;
}

/** Reads a stream to its end; the last bytes it held. */
async function drain(stream: AsyncIterable<ReadStreamResponse>): Promise<string> {
  let tail = Buffer.alloc(0);
  for await (const chunk of stream) tail = Buffer.concat([tail, chunk.data]).subarray(-STDERR_TAIL_BYTES);
  return tail.toString('utf8');
}

async function runContainer(
  agent: AgentClient,
  containerId: string,
  rootfs: WarmUpRootfs,
  timeoutMs: number,
): Promise<WarmedUp> {
  const created = await agent.createContainer(
    {
      containerId,
      ociSpecJson: Buffer.from(JSON.stringify(warmUpSpec())),
      rootfs: {
        kind: {
          $case: 'overlay',
          overlay: { lower: [rootfs.lower], upper: rootfs.upper, work: rootfs.work, options: [] },
        },
      },
      mounts: [],
      stdin: false,
      terminal: false,
    },
    { timeoutMs },
  );
  // As a shim reads a process's output: with flow control (guest_process.ts).
  const ref = { containerId, execId: '', reportConsumed: true };
  const outputs = Promise.all([drain(agent.readStdout(ref)), drain(agent.readStderr(ref))]);
  await agent.startContainer({ containerId }, { timeoutMs });
  const exit = await agent.waitProcess({ containerId, execId: '' }, { timeoutMs });
  const [, stderr] = await outputs;
  if (exit.exitStatus !== 0) {
    const said = stderr.trim() === '' ? '' : `: ${stderr.trim()}`;
    throw new SandboxError(
      'host-failure',
      `warm-up container ${containerId}: ${PROGRAM} exited with ${exit.exitStatus}${said}`,
    );
  }
  await agent.removeContainer({ containerId, timeoutMs }, { timeoutMs });
  return { containerId, pid: created.pid };
}

/**
 * Runs the warm-up container in a booted VM whose container shares the guest has mounted. Resolves
 * once its init exited with 0 and the agent removed it; its dirs are released either way. On a
 * failure the guest may still hold parts of it: the caller discards the VM.
 */
export async function warmUpVm(agent: AgentClient, place: WarmUpPlace, timeoutMs: number): Promise<WarmedUp> {
  const containerId = `vfs-warm-up-${randomBytes(6).toString('hex')}`;
  let warmed: WarmedUp;
  try {
    warmed = await runContainer(agent, containerId, await place.prepare(containerId), timeoutMs);
  } catch (err) {
    await place.release(containerId).catch((releaseErr: unknown) => {
      throw SandboxError.alsoFailed(err, 'releasing its dirs', releaseErr);
    });
    throw err;
  }
  await place.release(containerId);
  return warmed;
}

function containerDir(share: string, name: string, source: string, readonly: boolean): ContainerDir {
  return { share, name, source, target: `${share}/${name}`, wrapsFile: false, recursive: false, readonly };
}

/** The host dir of a warm-up container's dirs, in the VM's state dir. */
function hostDir(layout: SandboxLayout, containerId: string): string {
  return join(layout.stateDir, 'warm-up', containerId);
}

function warmUpDirs(layout: SandboxLayout, containerId: string): ContainerDir[] {
  const host = hostDir(layout, containerId);
  return [
    containerDir(LAYERS_TAG, containerId, join(host, 'lower'), true),
    containerDir(DATA_TAG, containerId, join(host, 'data'), false),
  ];
}

/**
 * The dirs as a shim's container's are: host dirs in the VM's state dir, bound into the layer and
 * data shares under the container's id, unbound (and their mount points removed) after. The host
 * dirs stay for the VM's teardown, which removes its state dir once QEMU and the daemon are gone:
 * until then the daemon may still hold the guest's handles to what the container wrote there.
 * Releasing what was never bound, or twice, finds nothing to do.
 */
export function boundWarmUpPlace(state: SandboxState, layout: SandboxLayout): WarmUpPlace {
  return {
    prepare: async (containerId) => {
      const host = hostDir(layout, containerId);
      for (const sub of ['lower', 'data/upper', 'data/work'])
        mkdirSync(join(host, sub), { recursive: true, mode: 0o755 });
      await bindContainerDirs(state, layout, containerId, warmUpDirs(layout, containerId));
      return {
        lower: { tag: LAYERS_TAG, path: containerId },
        upper: { tag: DATA_TAG, path: `${containerId}/upper` },
        work: { tag: DATA_TAG, path: `${containerId}/work` },
      };
    },
    release: (containerId) => releaseContainerDirs(state, layout, containerId, warmUpDirs(layout, containerId)),
  };
}
