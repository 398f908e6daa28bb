// Fixtures of the FUSE tests. `startHarness` runs the real daemon process on a fresh temp
// directory and drives it over a real vhost-user socket with the front-end driver, so each
// opcode test goes through the same path a guest uses. A daemon whose test ended with it still
// running serves the file's next test with the same flags: a new connection (a new FUSE session,
// as a guest reboot gets) on its emptied directory, which saves a daemon start (≈0.5 s) per test.
// `startLoopbackHarness` serves the handler in-process, for the few tests that must reach inside
// it (a deferred chain, a session reset).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { cPath, O_CLOEXEC, O_DIRECTORY, O_PATH, openat, AT_FDCWD } from '../src/sys/fs';
import { close } from '../src/sys/fd';
import type { SandboxMode, SeccompAction } from '../src/cli';
import type { ExportConfig } from '../src/passthrough/config';
import { openProcSelfFd } from '../src/passthrough/passthrough_fs';
import { fuseHandlerFactory } from '../src/fuse/server';
import { bundleWorker } from '@vfs/harness/bundles';
import { type FrontendOptions, VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { LoopbackTransport, type LoopbackOptions } from './loopback_transport';

export type ExportOptions = Partial<Omit<ExportConfig, 'rootFd' | 'procSelfFd' | 'logger'>>;

export interface Harness {
  readonly dir: string;
  readonly client: FuseClient;
  cleanup(): void;
}

/** How the daemon process confines itself; unset flags take the daemon's defaults. */
export interface DaemonConfinement {
  readonly sandbox?: SandboxMode;
  readonly seccomp?: SeccompAction;
  /** Supplementary groups the daemon process starts with (it is run under setpriv). */
  readonly groups?: readonly number[];
  /** --rlimit-nofile; unset, the daemon's default raise. */
  readonly rlimitNofile?: number;
  /** --modcaps */
  readonly modcaps?: string;
}

export interface DaemonHarness extends Harness {
  /** The process started (under --sandbox=namespace: unshare, whose child is the daemon). */
  readonly daemon: ChildProcess;
  /** The driver under `client`, for requests kept in flight together. */
  readonly frontend: VhostUserFrontend;
}

export interface LoopbackHarness extends Harness {
  readonly transport: LoopbackTransport;
  /** Another session on the same export (the guest reconnecting, or a second guest). */
  reconnect(): { transport: LoopbackTransport; client: FuseClient };
}

let daemonScript: string | undefined;

/** The daemon bundled once per test process (Node 20 runs no .ts in a Worker), removed at exit. */
function daemonBundle(): string {
  if (daemonScript === undefined) {
    const script = bundleWorker(join(__dirname, '../src/main.ts'));
    process.once('exit', () => rmSync(script, { force: true }));
    daemonScript = script;
  }
  return daemonScript;
}

/** The daemon's command-line spelling of each export option. */
function daemonFlags(o: ExportOptions): string[] {
  const flags: string[] = [];
  if (o.readonly) flags.push('--readonly');
  if (o.cache !== undefined) flags.push(`--cache=${o.cache}`);
  flags.push(o.xattr === false ? '-o no_xattr' : '--xattr');
  if (o.xattrmap !== undefined) flags.push(`--xattrmap=${o.xattrmap}`);
  if (o.posixLocks === false) flags.push('-o no_posix_lock');
  if (o.flock === false) flags.push('-o no_flock');
  if (o.readdirplus !== undefined) flags.push(o.readdirplus ? '-o readdirplus' : '-o no_readdirplus');
  if (o.writeback) flags.push('--writeback');
  if (o.allowDirectIo) flags.push('--allow-direct-io');
  if (o.allowMmap) flags.push('--allow-mmap');
  if (o.posixAcl) flags.push('--posix-acl');
  if (o.killprivV2 === false) flags.push('--no-killpriv-v2');
  if (o.announceSubmounts) flags.push('--announce-submounts');
  if (o.inodeFileHandles !== undefined) flags.push(`--inode-file-handles=${o.inodeFileHandles}`);
  for (const rule of o.translateUid ?? []) flags.push(`--translate-uid=${rule}`);
  for (const rule of o.translateGid ?? []) flags.push(`--translate-gid=${rule}`);
  const l = o.limits;
  if (l !== undefined) {
    flags.push(`--max-open-handles=${l.maxOpenHandles}`, `--max-lock-owners=${l.maxLockOwners}`);
    flags.push(`--max-parked-locks=${l.maxParkedLocks}`);
  }
  return flags.flatMap((f) => f.split(' '));
}

function confinementFlags(c: DaemonConfinement): string[] {
  return [
    ...(c.sandbox ? [`--sandbox=${c.sandbox}`] : []),
    ...(c.seccomp ? [`--seccomp=${c.seccomp}`] : []),
    ...(c.rlimitNofile !== undefined ? [`--rlimit-nofile=${c.rlimitNofile}`] : []),
    ...(c.modcaps !== undefined ? [`--modcaps=${c.modcaps}`] : []),
  ];
}

/** How the driver plays QEMU and the guest (queue size, indirect descriptors…); defaults below. */
export type DriverOptions = Partial<Omit<FrontendOptions, 'socketPath'>>;

function connectDriver(socketPath: string, driver: DriverOptions): VhostUserFrontend {
  return VhostUserFrontend.connect({ socketPath, memorySize: 16 << 20, queueSize: 512, ...driver });
}

interface Daemon {
  readonly dir: string;
  readonly socketPath: string;
  readonly daemon: ChildProcess;
}

/** Daemons whose test has ended, by their flags; stopped when the test file ends. */
const idle = new Map<string, Daemon[]>();

afterAll(() => {
  for (const daemons of idle.values()) for (const d of daemons) stopDaemon(d);
  idle.clear();
});

function stopDaemon({ dir, socketPath, daemon }: Daemon): void {
  daemon.kill('SIGKILL');
  rmSync(socketPath, { force: true });
  rmSync(dir, { recursive: true, force: true });
}

const running = ({ daemon }: Daemon): boolean =>
  !daemon.killed && daemon.exitCode === null && daemon.signalCode === null;

/** The shared directory as mkdtemp made it; false when something in it stays (a mount). */
function emptied(dir: string): boolean {
  try {
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    chmodSync(dir, 0o700);
    return true;
  } catch {
    return false;
  }
}

function harnessOn(key: string, d: Daemon, frontend: VhostUserFrontend): DaemonHarness {
  return {
    dir: d.dir,
    daemon: d.daemon,
    frontend,
    client: new FuseClient(frontend),
    cleanup(): void {
      frontend.close();
      if (running(d) && emptied(d.dir)) idle.set(key, [...(idle.get(key) ?? []), d]);
      else stopDaemon(d);
    },
  };
}

/** An idle daemon with these flags, connected anew; undefined when none answers. */
function reconnectIdle(key: string, driver: DriverOptions): DaemonHarness | undefined {
  for (let d = idle.get(key)?.pop(); d !== undefined; d = idle.get(key)?.pop()) {
    try {
      // It listens already: no waiting for its socket to appear.
      if (running(d)) return harnessOn(key, d, connectDriver(d.socketPath, { connectTimeoutMs: 0, ...driver }));
    } catch {
      // Gone since its test ended: start another.
    }
    stopDaemon(d);
  }
  return undefined;
}

export function startHarness(
  options: ExportOptions = {},
  confinement: DaemonConfinement = {},
  driver: DriverOptions = {},
): DaemonHarness {
  const key = JSON.stringify([options, confinement]);
  const reused = reconnectIdle(key, driver);
  if (reused !== undefined) return reused;
  const dir = mkdtempSync(join(tmpdir(), 'vfs-fuse-'));
  const socketPath = `${dir}.sock`;
  const logLevel = `--log-level=${process.env['VFS_TEST_LOG'] ?? 'error'}`;
  const command = [
    process.execPath,
    daemonBundle(),
    `--socket-path=${socketPath}`,
    `--shared-dir=${dir}`,
    logLevel,
    ...daemonFlags(options),
    ...confinementFlags(confinement),
  ];
  // setpriv execs the daemon: the child stays the daemon's pid.
  const groups = confinement.groups;
  if (groups !== undefined) {
    command.unshift('setpriv', groups.length === 0 ? '--clear-groups' : `--groups=${groups.join(',')}`, '--');
  }
  const [file, ...args] = command as [string, ...string[]];
  const daemon: ChildProcess = spawn(file, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  let frontend: VhostUserFrontend;
  try {
    frontend = connectDriver(socketPath, driver);
  } catch (err) {
    daemon.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return harnessOn(key, { dir, socketPath, daemon }, frontend);
}

export function startLoopbackHarness(options: ExportOptions = {}, loop: LoopbackOptions = {}): LoopbackHarness {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-fuse-'));
  const rootFd = openat(AT_FDCWD, cPath(dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootFd < 0) throw new Error(`open ${dir}: ${-rootFd}`);
  const procSelfFd = openProcSelfFd();
  const config: ExportConfig = {
    rootFd,
    procSelfFd,
    readonly: false,
    cache: 'auto',
    xattr: true,
    posixLocks: true,
    flock: true,
    readdirplus: true,
    writeback: false,
    allowDirectIo: false,
    announceSubmounts: false,
    logger: pino({ level: 'silent' }),
    ...options,
  };
  const transports: LoopbackTransport[] = [];
  const connect = (): { transport: LoopbackTransport; client: FuseClient } => {
    const transport = new LoopbackTransport(fuseHandlerFactory(config), loop);
    transports.push(transport);
    return { transport, client: new FuseClient(transport) };
  };
  const first = connect();
  return {
    dir,
    transport: first.transport,
    client: first.client,
    reconnect: connect,
    cleanup(): void {
      for (const t of transports) t.close();
      close(rootFd);
      close(procSelfFd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
