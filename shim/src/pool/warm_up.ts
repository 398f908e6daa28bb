// The pool's warm-up: before a VM joins the pool, one throwaway container goes through the agent's
// API as a shim's first container would — CreateContainer with the spec `ctr run` makes, on an
// overlay in the VM's own container shares; its output read with ReadStdout/ReadStderr; Start,
// Wait, Remove. A VM's first container costs the guest far more than the next: code run (and under
// TCG translated) for the first time — the agent's request decoding, spec checks and planning, its
// output relay, the kernel's overlay-on-virtio-fs, exec and exit paths (ARCHITECTURE.md, "The warm
// pool"). Its program is the guest's own busybox, bound in read-only as `true`, so no image is
// needed; its dirs are the pool's, made in the shares' host dirs and removed after it.

import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_BUSYBOX } from '@vfs/contracts';
import type { ReadStreamResponse } from '@vfs/proto/gen/agent/agent';
import { SandboxError } from '../sandbox_error';
import type { AgentClient } from '../vm_runtime/agent_dial';

const PROGRAM = '/bin/true';
/** What a failed run said last: enough to name the cause. */
const STDERR_TAIL_BYTES = 512;

const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** containerd's default Linux spec (`ctr oci spec`), running the guest's busybox as `true`. */
function warmUpSpec(): object {
  return {
    ociVersion: '1.1.0',
    process: {
      user: { uid: 0, gid: 0 },
      args: [PROGRAM],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs' },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/run',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      { destination: PROGRAM, type: 'bind', source: GUEST_BUSYBOX, options: ['rbind', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      // A path the guest kernel lacks is skipped, as runc does.
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/sys/devices/virtual/powercap',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** A container share: its virtio-fs tag and the host dir the daemon exports for it. */
export interface WarmUpShare {
  readonly tag: string;
  readonly hostDir: string;
}

export interface WarmUpShares {
  /** Read-only in the guest: holds the overlay's (empty) lower dir. */
  readonly layers: WarmUpShare;
  /** Read-write: holds the overlay's upper and work dirs. */
  readonly data: WarmUpShare;
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
  tags: WarmUpTags,
  timeoutMs: number,
): Promise<WarmedUp> {
  const created = await agent.createContainer(
    {
      containerId,
      ociSpecJson: Buffer.from(JSON.stringify(warmUpSpec())),
      rootfs: {
        kind: {
          $case: 'overlay',
          overlay: {
            lower: [{ tag: tags.layers, path: containerId }],
            upper: { tag: tags.data, path: `${containerId}/upper` },
            work: { tag: tags.data, path: `${containerId}/work` },
            options: [],
          },
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

interface WarmUpTags {
  readonly layers: string;
  readonly data: string;
}

/**
 * Runs the warm-up container in a booted VM whose container shares the guest has mounted. Resolves
 * once its init exited with 0 and the agent removed it; its dirs are removed from the shares either
 * way. On a failure the guest may still hold parts of it: the caller discards the VM.
 */
export async function warmUpVm(agent: AgentClient, shares: WarmUpShares, timeoutMs: number): Promise<WarmedUp> {
  const containerId = `vfs-warm-up-${randomBytes(6).toString('hex')}`;
  const lower = join(shares.layers.hostDir, containerId);
  const data = join(shares.data.hostDir, containerId);
  try {
    // An empty lower dir: the launcher makes the mount points in the upper one.
    mkdirSync(lower, { mode: 0o755 });
    for (const sub of ['upper', 'work']) mkdirSync(join(data, sub), { recursive: true, mode: 0o755 });
    return await runContainer(agent, containerId, { layers: shares.layers.tag, data: shares.data.tag }, timeoutMs);
  } finally {
    rmSync(lower, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
}
