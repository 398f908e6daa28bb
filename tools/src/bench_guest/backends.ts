// The file-system back ends bench-guest compares, each as the guest mounts it and the host serves
// it: three virtio-fs daemons (vhost-user, started here with their defaults but the cache mode) and
// virtio-9p, served by QEMU itself (no daemon: its work shows in QEMU's CPU), all on the system
// QEMU; and our daemon on our own QEMU (make vmm) without and with a DAX window (every file, and
// per inode: only large files), so DAX's effect is measured on one footing.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { daemonProfile, shippedNode, nodeCommand } from '../bench_common/our_daemon_node';

export const BACKENDS = ['ours', 'c', 'rust', '9p', 'ours-vmm', 'ours-dax', 'ours-dax-inode'] as const;
export type Backend = (typeof BACKENDS)[number];

/** Our daemon on our QEMU: without a DAX window, with one mounted dax=always, and dax=inode. */
export const VMM_BACKENDS = ['ours-vmm', 'ours-dax', 'ours-dax-inode'] as const satisfies readonly Backend[];
/** The back ends on the system QEMU: the default set when our QEMU is not built. */
export const SYSTEM_BACKENDS = ['ours', 'c', 'rust', '9p'] as const satisfies readonly Backend[];

/**
 * The DAX window of ours-dax: the daemon's --dax-window and the device's cache-size (a PCI BAR, so
 * a power of two); 256 MiB holds the workload's largest file at scale 4.
 */
export const DAX_WINDOW_MIB = 256;

/**
 * ours-dax-inode's --dax-min-file-kib: the workload's small files (≤ 16 KiB) take the page cache, its
 * large ones (MiBs) the window; any threshold between gives the same split.
 */
export const DAX_MIN_FILE_KIB = 1024;

/** The back ends whose device has a DAX window, and the guest's `dax=` mount mode for each. */
const DAX_MODE: Partial<Record<Backend, string>> = { 'ours-dax': 'dax=always', 'ours-dax-inode': 'dax=inode' };

export function daxMountOption(backend: Backend): string | undefined {
  return DAX_MODE[backend];
}

export function onOurQemu(backend: Backend): boolean {
  return (VMM_BACKENDS as readonly Backend[]).includes(backend);
}

/** virtio-fs cache modes; 9p gets its closest (NINE_P_CACHE). */
export const CACHES = ['auto', 'none'] as const;
export type Cache = (typeof CACHES)[number];

/**
 * 9p's nearest modes: `loose` caches data and metadata in the guest (virtio-fs auto caches both
 * too, but revalidates after 1 s); `none` caches nothing, as virtio-fs none.
 */
export const NINE_P_CACHE: Record<Cache, string> = { auto: 'loose', none: 'none' };

export interface DaemonPaths {
  readonly ours: string;
  readonly c: string;
  readonly rust: string;
  /** Our QEMU (make vmm), which ours-vmm and ours-dax boot on. */
  readonly vmmQemu: string;
  /** Where our daemon writes node --cpu-prof profiles; none: not profiled. */
  readonly oursCpuProf?: string;
}

export interface Mount {
  readonly fs: 'virtiofs' | '9p';
  readonly options: string;
}

export function mountFor(backend: Backend, cache: Cache): Mount {
  const dax = daxMountOption(backend);
  if (dax !== undefined) return { fs: 'virtiofs', options: dax };
  if (backend !== '9p') return { fs: 'virtiofs', options: '' };
  // 512 KiB messages: as large as QEMU's virtio-9p takes, so sequential I/O is not msize-bound.
  return { fs: '9p', options: `trans=virtio,version=9p2000.L,msize=524288,cache=${NINE_P_CACHE[cache]}` };
}

/** QEMU arguments for the share `share` of a 9p back end over `dir`. */
export function ninePArgs(dir: string): string[] {
  return [
    '-fsdev',
    `local,id=fs9p,path=${dir.replaceAll(',', ',,')},security_model=passthrough`,
    '-device',
    'virtio-9p-pci,fsdev=fs9p,mount_tag=share',
  ];
}

/**
 * The command line that starts `backend`'s daemon. Ours runs on this Node with the flags its shebang
 * gives it as shipped, and node --cpu-prof when profiled (our_daemon_node.ts).
 */
export function daemonCommand(
  backend: Exclude<Backend, '9p'>,
  paths: DaemonPaths,
  cache: Cache,
  socket: string,
  dir: string,
): [string, string[]] {
  switch (backend) {
    case 'ours':
    case 'ours-vmm':
    case 'ours-dax':
    case 'ours-dax-inode': {
      const dax = daxMountOption(backend) === undefined ? [] : [`--dax-window=${DAX_WINDOW_MIB}`];
      if (backend === 'ours-dax-inode') dax.push(`--dax-min-file-kib=${DAX_MIN_FILE_KIB}`);
      const args = [`--socket-path=${socket}`, `--shared-dir=${dir}`, `--cache=${cache}`, ...dax];
      const shipped = shippedNode(paths.ours);
      if (paths.oursCpuProf === undefined) {
        const [file, node] = nodeCommand(paths.ours, shipped);
        return [file, [...node, ...args]];
      }
      const profile = daemonProfile(paths.oursCpuProf);
      const [file, node] = nodeCommand(paths.ours, shipped, profile.nodeFlags);
      return [file, [...node, ...args, ...profile.daemonArgs]];
    }
    case 'c':
      return [paths.c, [`--socket-path=${socket}`, '-o', `source=${dir}`, '-o', `cache=${cache}`]];
    case 'rust':
      // Rust spells "none" as "never".
      return [
        paths.rust,
        [`--socket-path=${socket}`, `--shared-dir=${dir}`, `--cache=${cache === 'none' ? 'never' : cache}`],
      ];
  }
}

export interface RunningDaemon {
  readonly pid: number;
  /** SIGTERM to its process group (ours under the namespace sandbox is unshare's child), then SIGKILL. */
  stop(): Promise<void>;
  /** SIGKILL to its process group at once (a clean-up's last resort); nothing if it is gone. */
  kill(): void;
  logTail(): string;
}

const SOCKET_WAIT_MS = 20_000;

/** Starts the daemon of `backend` in its own process group and waits for its socket (a new path: a stale one would pass). */
export async function startDaemon(
  backend: Exclude<Backend, '9p'>,
  paths: DaemonPaths,
  cache: Cache,
  socket: string,
  dir: string,
  logPath: string,
): Promise<RunningDaemon> {
  const [file, args] = daemonCommand(backend, paths, cache, socket, dir);
  const log = openSync(logPath, 'a');
  const child = spawn(file, args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${file}`);
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      // Already gone.
    }
  };
  const logTail = (): string => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    // Whatever it left in its group (ours: the daemon under unshare).
    signal('SIGKILL');
  };
  const deadline = Date.now() + SOCKET_WAIT_MS;
  while (!existsSync(socket)) {
    if (gone || Date.now() > deadline) {
      await stop();
      throw new Error(`${backend} daemon: no socket ${socket} after start\n${logTail()}`);
    }
    await sleep(20);
  }
  return { pid, stop, kill: () => (gone ? undefined : signal('SIGKILL')), logTail };
}
