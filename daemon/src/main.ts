// vfs-virtiofsd: parses the command line, opens the shared directory, confines itself, and serves
// every export from one device loop on its main thread, beside Node's event loop. In multi-export
// mode a control socket adds and removes exports at run time.
import { readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs, USAGE, UsageError, type DaemonOptions, type InodeFileHandles } from './cli';
import { errorMessage, type ControlRequest, type ControlResponse } from '@vfs/contracts';
import { listenControl } from './control/server';
import { xattrMapProblem } from './passthrough/xattr_map';
import { ExportError, ExportRegistry, type ExportSpec } from './exports';
import { createFuseHandler } from './fuse/server';
import { createDaemonLog, type Logger, warnSyslogUnreachable } from './log';
import { openProcSelfFd } from './passthrough/passthrough_fs';
import { confine, enterNamespaces, type Confinement } from './sandbox/sandbox';
import { canOpenFileHandles, removesFileHandleCapability } from './sandbox/capabilities';
import { FILE_HANDLE_SIZE, nameToHandleAt } from './sys/file_handle';
import { AT_EMPTY_PATH, cPath, EMPTY_PATH, fchmodat, fchownat, O_CLOEXEC, O_DIRECTORY, O_RDONLY } from './sys/fs';
import { SysError } from './sys/libc';
import { openat2, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS } from './sys/openat2';
import { dropSupplementaryGroups } from './sys/creds';
import { applyNofileLimit } from './sys/rlimit';
import { stopThenExit } from './shutdown';
import { listenUnix } from './sys/socket';

const VERSION = '0.1.0';
const AT_FDCWD = -100;
/** Not O_PATH: an export's fd is open_by_handle_at's mount fd (--inode-file-handles), which refuses O_PATH fds. */
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
const SOCKET_GROUP_MODE = 0o660;
/** chown's -1 as the uint32 fchownat takes: the owner stays. */
const KEEP_OWNER = 0xffff_ffff;

function openRoot(path: string): number {
  return openat2(AT_FDCWD, path, DIR_FLAGS, 0);
}

/** A share below the root: no absolute path, `..` or symlink may lead outside it. */
function openShare(rootFd: number, dir: string): number {
  return openat2(rootFd, dir, DIR_FLAGS, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
}

function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === name);
  if (line === undefined) throw new UsageError(`--socket-group: no group '${name}'`);
  return Number(line.split(':')[2]);
}

/** Where `add` may create vhost-user sockets once confined: beside the control socket. */
function controlSocketDir(opts: DaemonOptions): string | undefined {
  return opts.controlSocket === undefined ? undefined : dirname(resolve(opts.controlSocket));
}

function checkSocketPlacement(socket: string, socketDir: string | undefined): void {
  if (socketDir !== undefined && dirname(resolve(socket)) !== socketDir) {
    throw new ExportError(
      `socket ${socket}: a sandboxed daemon creates vhost-user sockets only in ${socketDir}, the control socket's directory`,
    );
  }
}

/** The control protocol checks only that a map is a string; its grammar is the daemon's. */
function checkXattrMap(map: string | undefined): void {
  const problem = map === undefined ? null : xattrMapProblem(map);
  if (problem !== null) throw new ExportError(`field 'xattrmap': ${problem}`);
}

function handleControl(
  registry: ExportRegistry,
  rootFd: number,
  socketDir: string | undefined,
): (req: ControlRequest) => Promise<ControlResponse> {
  return async (req) => {
    switch (req.op) {
      case 'add': {
        checkSocketPlacement(req.socket, socketDir);
        checkXattrMap(req.xattrmap);
        const dirFd = openShare(rootFd, req.dir);
        // As virtiofsd: READDIRPLUS fills the guest's caches, which cache=none does not keep.
        await registry.add({
          ...req,
          socketPath: req.socket,
          dirFd,
          readdirplus: req.cache !== 'none',
          // parseRequest sets it exactly when dax is on.
          daxWindowMiB: req.daxWindowMiB ?? 0,
        });
        return { id: req.id, ok: true };
      }
      case 'remove':
        await registry.remove(req.tag);
        return { id: req.id, ok: true };
      case 'list':
        return { id: req.id, ok: true, exports: registry.list() };
    }
  };
}

/**
 * Single-export mode under a sandbox: the vhost-user socket is made before the daemon leaves the
 * host's root, and handed to the device Worker as a listening fd.
 */
function openSingleListener(opts: DaemonOptions): number | undefined {
  if (opts.sandbox === 'none' || opts.socketPath === undefined || opts.controlSocket !== undefined) return undefined;
  rmSync(opts.socketPath, { force: true });
  return listenUnix(opts.socketPath, 1);
}

/**
 * The socket is made 0600; a socket group may connect once it owns it. fchownat, not chownSync:
 * without a sandbox this runs under the seccomp filter, which has no chown.
 */
function chownSocket(opts: DaemonOptions): void {
  if (opts.socketGroup === undefined || opts.socketPath === undefined) return;
  const path = cPath(opts.socketPath);
  const owned = fchownat(AT_FDCWD, path, KEEP_OWNER, groupId(opts.socketGroup), 0);
  if (owned < 0) throw new SysError(`chown(${opts.socketPath}, group ${opts.socketGroup})`, -owned);
  const widened = fchmodat(AT_FDCWD, path, SOCKET_GROUP_MODE);
  if (widened < 0) throw new SysError(`chmod(${opts.socketPath}, 0660)`, -widened);
}

/**
 * As virtiofsd: inodes held as file handles where the daemon can open them (CAP_DAC_READ_SEARCH,
 * which the sandbox then keeps), else as O_PATH fds. Asked for without it, prefer falls back to
 * fds and mandatory refuses to start.
 */
function inodeFileHandles(opts: DaemonOptions, log: Logger): InodeFileHandles {
  const asked = opts.inodeFileHandles;
  // By default, handles are used only where the confined daemon can still open them.
  if (asked === undefined && removesFileHandleCapability(opts.modcaps)) return 'never';
  if (asked === 'never' || canOpenFileHandles()) return asked ?? 'prefer';
  if (asked === 'mandatory') {
    throw new Error('--inode-file-handles=mandatory: the daemon lacks CAP_DAC_READ_SEARCH to open handles');
  }
  if (asked === 'prefer') log.warn({}, '--inode-file-handles=prefer without CAP_DAC_READ_SEARCH: inodes held as fds');
  return 'never';
}

/** Under mandatory, an export whose file system makes no file handles is refused before any guest comes. */
function checkFileHandles(mode: InodeFileHandles, dirFd: number, dir: string): void {
  if (mode !== 'mandatory') return;
  const r = nameToHandleAt(dirFd, EMPTY_PATH, Buffer.alloc(FILE_HANDLE_SIZE), new Int32Array(1), AT_EMPTY_PATH);
  if (r < 0) throw new SysError(`--inode-file-handles=mandatory: ${dir} gives no file handle (name_to_handle_at)`, -r);
}

/** Everything that needs the host's root happens before this; everything after runs confined. */
function confineDaemon(opts: DaemonOptions, log: Logger, fileHandles: InodeFileHandles): Confinement {
  const started = process.hrtime.bigint();
  const confinement = confine({
    mode: opts.sandbox,
    seccomp: opts.seccomp,
    sharedDir: resolve(opts.sharedDir as string),
    socketDirs: [controlSocketDir(opts)].filter((d): d is string => d !== undefined),
    fileHandles: fileHandles !== 'never',
    capabilityChanges: opts.modcaps,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  log.info(
    { sandbox: opts.sandbox, seccomp: opts.seccomp, syscalls: confinement.syscalls, ms: Math.round(ms * 10) / 10 },
    'sandbox ready',
  );
  return confinement;
}

async function serve(opts: DaemonOptions, log: Logger): Promise<void> {
  // setfsgid leaves the supplementary groups in force, and the kernel would check the guest's
  // requests (set-group-ID on create, group permissions) against ours too (CVE-2022-0358). As
  // virtiofsd, only as root: an unprivileged daemon cannot act as another user anyway.
  if (process.geteuid?.() === 0) dropSupplementaryGroups();
  applyNofileLimit(opts.rlimitNofile);
  const listenFd = openSingleListener(opts) ?? opts.fd;
  if (listenFd !== undefined) chownSocket(opts);
  const fileHandles = inodeFileHandles(opts, log);
  const { sharedDir } = confineDaemon(opts, log, fileHandles);
  let shutdown: (code: number) => void = () => undefined;
  const registry = new ExportRegistry(
    (config) => (complete, backend) =>
      createFuseHandler({ ...config, logger: log.child({ export: config.tag }) }, complete, backend),
    {
      procSelfFd: openProcSelfFd(),
      posixLocks: opts.posixLocks,
      flock: opts.flock,
      writeback: opts.writeback,
      allowDirectIo: opts.allowDirectIo,
      allowMmap: opts.allowMmap,
      posixAcl: opts.posixAcl,
      killprivV2: opts.killprivV2,
      limits: opts.limits,
      inodeFileHandles: fileHandles,
      translateUid: opts.translateUid,
      translateGid: opts.translateGid,
    },
    log,
    (tag, reason) => {
      log.error({ export: tag, reason }, 'export died');
      if (opts.controlSocket === undefined) shutdown(1);
    },
  );
  let control: { close(): Promise<void> } | undefined;
  shutdown = (code: number): void => {
    void stopThenExit([registry.stopAll(), control?.close()], code, log, (c) => process.exit(c));
  };
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));

  if (opts.controlSocket !== undefined) {
    const socketDir = opts.sandbox === 'none' ? undefined : controlSocketDir(opts);
    // Held for the daemon's life: every `add` opens its share beneath it.
    const rootFd = openRoot(sharedDir);
    checkFileHandles(fileHandles, rootFd, opts.sharedDir as string);
    control = await listenControl(opts.controlSocket, handleControl(registry, rootFd, socketDir), log);
    return;
  }
  const dirFd = openRoot(sharedDir);
  checkFileHandles(fileHandles, dirFd, opts.sharedDir as string);
  const spec: ExportSpec = {
    tag: opts.tag ?? 'share',
    socketPath: listenFd === undefined ? opts.socketPath : undefined,
    listenFd,
    dir: opts.sharedDir as string,
    dirFd,
    readonly: opts.readonly,
    cache: opts.cache,
    xattr: opts.xattr,
    xattrmap: opts.xattrmap,
    announceSubmounts: opts.announceSubmounts,
    readdirplus: opts.readdirplus,
    daxWindowMiB: opts.daxWindowMiB,
    daxMinFileKiB: opts.daxMinFileKiB,
  };
  await registry.add(spec);
  if (listenFd === undefined) chownSocket(opts);
}

async function main(argv: string[]): Promise<void> {
  let opts: DaemonOptions;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`vfs-virtiofsd: ${err.message}\n`);
    process.exit(2);
  }
  if (opts.help) return void process.stdout.write(USAGE);
  if (opts.version) return void process.stdout.write(`vfs-virtiofsd ${VERSION}\n`);
  if (opts.printCapabilities) return void process.stdout.write(`${JSON.stringify({ type: 'fs' }, null, 2)}\n`);
  const daemonLog = createDaemonLog(
    opts.logLevel,
    { component: 'vfs-virtiofsd', ...(opts.tag ? { tag: opts.tag } : {}) },
    { syslog: opts.syslog },
  );
  const { log } = daemonLog;
  try {
    enterNamespaces(opts.sandbox, opts.fd === undefined ? [] : [opts.fd], () => {
      // As unshare's --kill-child would: its SIGKILL ends us without a word either.
      log.warn('unshare, our parent, is gone: exiting');
      process.exit(1);
    });
    warnSyslogUnreachable(daemonLog);
    await serve(opts, log);
  } catch (err) {
    log.fatal({ error: errorMessage(err) }, 'cannot start');
    process.exit(1);
  }
}

void main(process.argv.slice(2));
