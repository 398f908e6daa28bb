// virtiofsd-compatible command line: the Rust daemon's `--flag` spelling and the C daemon's
// `-o option` spelling both map onto one DaemonOptions. Flags we cannot honour are refused with a
// clear error instead of being accepted and ignored.
import { daxMinFileProblem, daxWindowProblem, idMapProblem, type CacheMode } from '@vfs/contracts';
import { passesAcls, xattrMapProblem } from './passthrough/xattr_map';
import { DEFAULT_LIMITS, type ResourceLimits } from './passthrough/config';
import {
  type CapabilityChanges,
  NO_CAPABILITY_CHANGES,
  parseModcaps,
  removesFileHandleCapability,
} from './sandbox/capabilities';

export type { CacheMode };
export type SandboxMode = 'namespace' | 'chroot' | 'none';
export type SeccompAction = 'kill' | 'log' | 'trap' | 'none';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'off';
export type InodeFileHandles = 'never' | 'prefer' | 'mandatory';

export interface DaemonOptions {
  /** Directory exported (single-export mode) or holding the shares (multi-export mode). */
  sharedDir?: string;
  socketPath?: string;
  /** An inherited, already-listening vhost-user socket. */
  fd?: number;
  /** Multi-export mode: shares are added and removed at run time over this socket. */
  controlSocket?: string;
  socketGroup?: string;
  tag?: string;
  cache: CacheMode;
  sandbox: SandboxMode;
  seccomp: SeccompAction;
  /** --modcaps: changes to the capabilities the sandbox keeps. */
  modcaps: CapabilityChanges;
  threadPoolSize: number;
  readonly: boolean;
  xattr: boolean;
  xattrmap?: string;
  posixLocks: boolean;
  flock: boolean;
  readdirplus: boolean;
  writeback: boolean;
  allowDirectIo: boolean;
  /** Shared mappings of files opened with FOPEN_DIRECT_IO (cache=none), as virtiofsd's --allow-mmap. */
  allowMmap: boolean;
  /** POSIX ACLs enforced by the guest kernel, the umask applied by the host (virtiofsd's --posix-acl). */
  posixAcl: boolean;
  /** Negotiate FUSE_HANDLE_KILLPRIV_V2 (the daemon clears set-id bits); virtiofsd's --killpriv-v2. */
  killprivV2: boolean;
  announceSubmounts: boolean;
  /** Unset: prefer when the daemon has CAP_DAC_READ_SEARCH, else never (decided once confined). */
  inodeFileHandles?: InodeFileHandles;
  /** The DAX window in MiB (single-export mode); 0 = DAX off. */
  daxWindowMiB: number;
  /** Per-inode DAX: only regular files of at least this many KiB use the window; 0 = every file. */
  daxMinFileKiB: number;
  /** virtiofsd's uid/gid translation rules (@vfs/contracts id_map), each flag's values in order. */
  translateUid: string[];
  translateGid: string[];
  /** RLIMIT_NOFILE to set; 0 leaves it; unset raises it as virtiofsd does (sys/rlimit.ts). */
  rlimitNofile?: number;
  /** Bounds on what a guest can make the daemon hold, per session (passthrough/config.ts). */
  limits: ResourceLimits;
  logLevel: LogLevel;
  /** Log to the system log (/dev/log) instead of stderr. */
  syslog: boolean;
  printCapabilities: boolean;
  help: boolean;
  version: boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const CACHE_MODES: Record<string, CacheMode> = {
  none: 'none',
  never: 'none',
  auto: 'auto',
  always: 'always',
  metadata: 'metadata',
};
const SANDBOX_MODES: readonly SandboxMode[] = ['namespace', 'chroot', 'none'];
const SECCOMP_ACTIONS: readonly SeccompAction[] = ['kill', 'log', 'trap', 'none'];
const INODE_FILE_HANDLES: readonly InodeFileHandles[] = ['never', 'prefer', 'mandatory'];
const LOG_LEVELS: Record<string, LogLevel> = {
  error: 'error',
  err: 'error',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  trace: 'trace',
  off: 'off',
};

/** Flags of the reference daemons that vfs-virtiofsd refuses rather than silently ignores. */
const UNSUPPORTED: Record<string, string> = {
  '--daemonize': 'run it under a supervisor; it stays in the foreground',
  '--security-label': 'security labels are not implemented',
  '--uid-map': 'uid mapping is not implemented',
  '--gid-map': 'gid mapping is not implemented',
  '--migration-mode': "migrating the back end's state is not implemented",
  '--migration-on-error': "migrating the back end's state is not implemented",
  '--migration-verify-handles': "migrating the back end's state is not implemented",
  '--migration-confirm-paths': "migrating the back end's state is not implemented",
};

export const USAGE = `usage: vfs-virtiofsd [options]

A virtio-fs vhost-user back end (a drop-in for virtiofsd).

  --shared-dir=DIR, -o source=DIR     directory to export
  --socket-path=PATH                  vhost-user socket to listen on (--socket=PATH, as
                                      virtiofsd's deprecated spelling)
  --fd=FD                             inherited listening vhost-user socket
  --socket-group=GROUP                group owning the socket
  --control-socket=PATH               multi-export mode: shares are subdirectories of
                                      --shared-dir, added and removed over this socket
  --tag=TAG                           name used in logs, and the mount tag a generic
                                      vhost-user device reads (GET_CONFIG); default share
  --cache=none|auto|always|metadata   caching policy (-o cache=); default auto
  --sandbox=namespace|chroot|none     sandbox mode (-o sandbox=); default namespace:
                                      new mount, pid and net namespaces and a private
                                      root (needs root and util-linux unshare); chroot:
                                      that root without new namespaces, for a mount
                                      namespace the runtime made; none: no confinement
  --seccomp=kill|log|trap|none        action on a system call outside the allowlist;
                                      default kill
  --modcaps=LIST, -o modcaps=LIST     capabilities the sandbox keeps besides virtiofsd's
                                      set, or drops from it: +NAME or -NAME, colon-
                                      separated (e.g. +sys_admin:-mknod); not with
                                      --sandbox=none, which changes none
  --thread-pool-size=N                accepted for compatibility (see README)
  --readonly                          export read-only
  --xattr, -o xattr|no_xattr          enable extended attributes
  --xattrmap=MAP, -o xattrmap=MAP     xattr name mapping (enables xattrs)
  --posix-acl, -o posix_acl|no_posix_acl
                                      POSIX ACLs: the guest enforces them, creations take
                                      a parent's default ACL (enables xattrs); default off.
                                      In multi-export mode, for exports with xattrs
  -o posix_lock|no_posix_lock         POSIX locks on the host; default on
  -o flock|no_flock                   flock(2) on the host; default on
  -o readdirplus|no_readdirplus       default on, off with cache=none
  --writeback, -o writeback           writeback cache
  --allow-direct-io                   honour O_DIRECT from the guest
  --allow-mmap                        let the guest map files shared at cache=none or
                                      metadata (through its page cache: only for a
                                      directory the guest alone writes; Linux ≥ 6.6 guests)
  --killpriv-v2, --no-killpriv-v2     (-o killpriv_v2|no_killpriv_v2) whether the daemon
                                      clears set-user-ID and set-group-ID bits on write,
                                      truncate and chown when the guest asks
                                      (FUSE_HANDLE_KILLPRIV_V2), or the guest kernel does
                                      it; default on (virtiofsd's is off)
  --announce-submounts                report submounts to the guest (--no-announce-submounts:
                                      do not, the default here; virtiofsd's is on)
  --inode-file-handles=never|prefer|mandatory
                                      hold the guest's inodes as file handles, not O_PATH
                                      fds (no fd per inode; fds open for at most 128 of
                                      them); prefer falls back to fds where the file system
                                      has no handles, mandatory fails instead; inodes on
                                      submounts keep fds; default prefer with
                                      CAP_DAC_READ_SEARCH, else never
  --dax-window=MIB                    vfs extension: DAX through a shared-memory window of
                                      MIB (a power of two, at least 2; 0 = off, the default), on
                                      read-only and read-write exports; needs a VMM that
                                      serves vhost-user SHMEM_MAP
  --dax-min-file-kib=N                vfs extension, with --dax-window: per-inode DAX for a
                                      guest mounted dax=inode; only regular files of at
                                      least N KiB get FUSE_ATTR_DAX (0 = every file, the
                                      default, for dax=always)
  --translate-uid=RULE, --translate-gid=RULE
                                      translate ids between guest and host without a user
                                      namespace (repeat for more rules); RULE is one of
                                        map:GUEST:HOST:COUNT (both ways)
                                        guest:GUEST:HOST:COUNT, host:HOST:GUEST:COUNT
                                        squash-guest:GUEST:HOST_ID:COUNT
                                        squash-host:HOST:GUEST_ID:COUNT
                                        forbid-guest:GUEST:COUNT (EPERM)
                                      ids that no rule covers pass unchanged
  --rlimit-nofile=N                   set RLIMIT_NOFILE to N (at most fs.nr_open; 0 leaves
                                      it); default: raised to 1,000,000 (or fs.nr_open, or
                                      else the hard limit) unless already higher
  --max-open-handles=N                vfs extension: open files and directories per guest
                                      session (one fd each); OPEN, CREATE and OPENDIR past
                                      it get ENFILE; default ${DEFAULT_LIMITS.maxOpenHandles}
  --max-lock-owners=N                 vfs extension: POSIX lock owners holding locks per
                                      session, counted per file (one fd each); a new one
                                      past it gets ENOLCK; default ${DEFAULT_LIMITS.maxLockOwners}
  --max-parked-locks=N                vfs extension: SETLKW requests waiting per session;
                                      one more gets ENOLCK; default ${DEFAULT_LIMITS.maxParkedLocks}
  --log-level=error|warn|info|debug|trace|off  (-o log_level=, -d for debug)
  --syslog                            log to the system log (/dev/log, facility daemon)
                                      instead of stderr; a line it does not take goes
                                      to stderr
  --print-capabilities                print the vhost-user back-end capabilities
  -f, --foreground                    stay in the foreground (always the case)
  --preserve-noatime                  pass the guest's O_NOATIME to the host (always the
                                      case here; virtiofsd drops it without this flag); a
                                      daemon without CAP_FOWNER then gets EPERM opening
                                      another user's file so
  -V, --version                       print the version
  -h, --help                          print this help

Everything a guest can make the daemon hold is bounded (README, "Resource bounds"): by the
--max-* flags above, descriptor chains in flight by the queue size the VMM sets, and DAX
mappings by the window, at most one per 2 MiB chunk.
`;

interface ParseState {
  opts: DaemonOptions;
  readdirplusSet: boolean;
  sourceFrom?: string;
}

function defaults(): DaemonOptions {
  return {
    cache: 'auto',
    sandbox: 'namespace',
    seccomp: 'kill',
    modcaps: NO_CAPABILITY_CHANGES,
    threadPoolSize: 0,
    readonly: false,
    xattr: false,
    posixLocks: true,
    flock: true,
    readdirplus: true,
    writeback: false,
    allowDirectIo: false,
    allowMmap: false,
    posixAcl: false,
    killprivV2: true,
    announceSubmounts: false,
    daxWindowMiB: 0,
    daxMinFileKiB: 0,
    translateUid: [],
    translateGid: [],
    limits: DEFAULT_LIMITS,
    logLevel: 'info',
    syslog: false,
    printCapabilities: false,
    help: false,
    version: false,
  };
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new UsageError(`${flag}: invalid value '${value}' (expected ${allowed.join('|')})`);
  return found;
}

function fromTable<T>(flag: string, value: string, table: Record<string, T>): T {
  const found = Object.hasOwn(table, value) ? table[value] : undefined;
  if (found === undefined) {
    throw new UsageError(`${flag}: invalid value '${value}' (expected ${Object.keys(table).join('|')})`);
  }
  return found;
}

function nonNegativeInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag}: expected a non-negative integer, got '${value}'`);
  return Number(value);
}

/** A bound of ResourceLimits: a whole number from 1 to 2^31 - 1. */
function limit(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 0x7fff_ffff) {
    throw new UsageError(`${flag}: expected a whole number from 1 to ${0x7fff_ffff}, got '${value}'`);
  }
  return Number(value);
}

function daxWindow(value: string): number {
  const mib = nonNegativeInt('--dax-window', value);
  const problem = mib === 0 ? null : daxWindowProblem(mib);
  if (problem !== null) throw new UsageError(`--dax-window: ${problem}`);
  return mib;
}

function daxMinFile(value: string): number {
  const kib = nonNegativeInt('--dax-min-file-kib', value);
  const problem = daxMinFileProblem(kib);
  if (problem !== null) throw new UsageError(`--dax-min-file-kib: ${problem}`);
  return kib;
}

function modcaps(flag: string, list: string): CapabilityChanges {
  try {
    return parseModcaps(list);
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(`${flag}=${list}: ${err.message}`);
    throw err;
  }
}

function setSource(st: ParseState, flag: string, dir: string): void {
  if (dir === '') throw new UsageError(`${flag}: empty directory`);
  if (st.opts.sharedDir !== undefined && st.opts.sharedDir !== dir) {
    throw new UsageError(`${flag}=${dir} conflicts with ${st.sourceFrom}=${st.opts.sharedDir}`);
  }
  st.opts.sharedDir = dir;
  st.sourceFrom = flag;
}

/** Applies one `-o` option (C virtiofsd spelling). */
function applyCompatOption(st: ParseState, option: string): void {
  const eq = option.indexOf('=');
  const key = eq < 0 ? option : option.slice(0, eq);
  const value = eq < 0 ? undefined : option.slice(eq + 1);
  const o = st.opts;
  const needValue = (): string => {
    if (value === undefined) throw new UsageError(`-o ${key}: needs a value (-o ${key}=…)`);
    return value;
  };
  switch (key) {
    case 'source':
      return setSource(st, '-o source', needValue());
    case 'cache':
      o.cache = fromTable('-o cache', needValue(), CACHE_MODES);
      return;
    case 'sandbox':
      o.sandbox = oneOf('-o sandbox', needValue(), SANDBOX_MODES);
      return;
    case 'log_level':
      o.logLevel = fromTable('-o log_level', needValue(), LOG_LEVELS);
      return;
    case 'modcaps':
      o.modcaps = modcaps('-o modcaps', needValue());
      return;
    case 'xattrmap':
      o.xattrmap = needValue();
      o.xattr = true;
      return;
    case 'xattr':
      o.xattr = true;
      return;
    case 'no_xattr':
      o.xattr = false;
      return;
    case 'posix_acl':
      o.posixAcl = true;
      o.xattr = true;
      return;
    case 'no_posix_acl':
      o.posixAcl = false;
      return;
    case 'posix_lock':
      o.posixLocks = true;
      return;
    case 'no_posix_lock':
      o.posixLocks = false;
      return;
    case 'flock':
      o.flock = true;
      return;
    case 'no_flock':
      o.flock = false;
      return;
    case 'readdirplus':
      o.readdirplus = true;
      st.readdirplusSet = true;
      return;
    case 'no_readdirplus':
      o.readdirplus = false;
      st.readdirplusSet = true;
      return;
    case 'writeback':
      o.writeback = true;
      return;
    case 'no_writeback':
      o.writeback = false;
      return;
    case 'allow_direct_io':
      o.allowDirectIo = true;
      return;
    case 'no_allow_direct_io':
      o.allowDirectIo = false;
      return;
    case 'announce_submounts':
      o.announceSubmounts = true;
      return;
    case 'killpriv_v2':
      o.killprivV2 = true;
      return;
    case 'no_killpriv_v2':
      o.killprivV2 = false;
      return;
    case 'debug':
      o.logLevel = 'debug';
      return;
    default:
      throw new UsageError(`-o ${option}: unknown option`);
  }
}

type FlagHandler = (st: ParseState, value: string) => void;
interface FlagSpec {
  takesValue: boolean;
  apply: FlagHandler;
}

const FLAGS: Record<string, FlagSpec> = {
  '--shared-dir': { takesValue: true, apply: (st, v) => setSource(st, '--shared-dir', v) },
  '--socket-path': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.socketPath = v;
    },
  },
  // Rust virtiofsd's deprecated spelling of --socket-path.
  '--socket': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.socketPath = v;
    },
  },
  '--fd': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.fd = nonNegativeInt('--fd', v);
    },
  },
  '--socket-group': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.socketGroup = v;
    },
  },
  '--control-socket': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.controlSocket = v;
    },
  },
  '--tag': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.tag = v;
    },
  },
  '--cache': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.cache = fromTable('--cache', v, CACHE_MODES);
    },
  },
  '--sandbox': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.sandbox = oneOf('--sandbox', v, SANDBOX_MODES);
    },
  },
  '--modcaps': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.modcaps = modcaps('--modcaps', v);
    },
  },
  '--seccomp': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.seccomp = oneOf('--seccomp', v, SECCOMP_ACTIONS);
    },
  },
  '--thread-pool-size': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.threadPoolSize = nonNegativeInt('--thread-pool-size', v);
    },
  },
  '--readonly': {
    takesValue: false,
    apply: (st) => {
      st.opts.readonly = true;
    },
  },
  '--xattr': {
    takesValue: false,
    apply: (st) => {
      st.opts.xattr = true;
    },
  },
  '--xattrmap': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.xattrmap = v;
      st.opts.xattr = true;
    },
  },
  '--writeback': {
    takesValue: false,
    apply: (st) => {
      st.opts.writeback = true;
    },
  },
  '--no-readdirplus': {
    takesValue: false,
    apply: (st) => {
      st.opts.readdirplus = false;
      st.readdirplusSet = true;
    },
  },
  '--allow-direct-io': {
    takesValue: false,
    apply: (st) => {
      st.opts.allowDirectIo = true;
    },
  },
  '--allow-mmap': {
    takesValue: false,
    apply: (st) => {
      st.opts.allowMmap = true;
    },
  },
  '--posix-acl': {
    takesValue: false,
    apply: (st) => {
      st.opts.posixAcl = true;
      st.opts.xattr = true;
    },
  },
  '--killpriv-v2': {
    takesValue: false,
    apply: (st) => {
      st.opts.killprivV2 = true;
    },
  },
  '--no-killpriv-v2': {
    takesValue: false,
    apply: (st) => {
      st.opts.killprivV2 = false;
    },
  },
  '--announce-submounts': {
    takesValue: false,
    apply: (st) => {
      st.opts.announceSubmounts = true;
    },
  },
  '--no-announce-submounts': {
    takesValue: false,
    apply: (st) => {
      st.opts.announceSubmounts = false;
    },
  },
  '--inode-file-handles': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.inodeFileHandles = oneOf('--inode-file-handles', v, INODE_FILE_HANDLES);
    },
  },
  '--dax-window': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.daxWindowMiB = daxWindow(v);
    },
  },
  '--dax-min-file-kib': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.daxMinFileKiB = daxMinFile(v);
    },
  },
  '--rlimit-nofile': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.rlimitNofile = nonNegativeInt('--rlimit-nofile', v);
    },
  },
  '--max-open-handles': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.limits = { ...st.opts.limits, maxOpenHandles: limit('--max-open-handles', v) };
    },
  },
  '--max-lock-owners': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.limits = { ...st.opts.limits, maxLockOwners: limit('--max-lock-owners', v) };
    },
  },
  '--max-parked-locks': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.limits = { ...st.opts.limits, maxParkedLocks: limit('--max-parked-locks', v) };
    },
  },
  '--translate-uid': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.translateUid.push(v);
    },
  },
  '--translate-gid': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.translateGid.push(v);
    },
  },
  '--log-level': {
    takesValue: true,
    apply: (st, v) => {
      st.opts.logLevel = fromTable('--log-level', v, LOG_LEVELS);
    },
  },
  '--syslog': {
    takesValue: false,
    apply: (st) => {
      st.opts.syslog = true;
    },
  },
  '--print-capabilities': {
    takesValue: false,
    apply: (st) => {
      st.opts.printCapabilities = true;
    },
  },
  '--foreground': { takesValue: false, apply: () => undefined },
  '-f': { takesValue: false, apply: () => undefined },
  // The guest's O_NOATIME always reaches the host's open (ops_file.ts), which this flag asks for.
  '--preserve-noatime': { takesValue: false, apply: () => undefined },
  '-d': {
    takesValue: false,
    apply: (st) => {
      st.opts.logLevel = 'debug';
    },
  },
  '-o': {
    takesValue: true,
    apply: (st, v) => {
      for (const opt of v.split(',')) if (opt !== '') applyCompatOption(st, opt);
    },
  },
  '--version': {
    takesValue: false,
    apply: (st) => {
      st.opts.version = true;
    },
  },
  '-V': {
    takesValue: false,
    apply: (st) => {
      st.opts.version = true;
    },
  },
  '--help': {
    takesValue: false,
    apply: (st) => {
      st.opts.help = true;
    },
  },
  '-h': {
    takesValue: false,
    apply: (st) => {
      st.opts.help = true;
    },
  },
};

function splitArg(arg: string): { flag: string; inline?: string } {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    return eq < 0 ? { flag: arg } : { flag: arg.slice(0, eq), inline: arg.slice(eq + 1) };
  }
  if (arg.startsWith('-o') && arg.length > 2) return { flag: '-o', inline: arg.slice(2) };
  return { flag: arg };
}

function validate(st: ParseState): void {
  const o = st.opts;
  if (o.help || o.version || o.printCapabilities) return;
  if (o.sharedDir === undefined) throw new UsageError('missing --shared-dir (or -o source=)');
  const listeners = [
    o.socketPath && '--socket-path',
    o.fd !== undefined && '--fd',
    o.controlSocket && '--control-socket',
  ].filter((x): x is string => typeof x === 'string');
  if (listeners.length === 0) throw new UsageError('missing --socket-path, --fd or --control-socket');
  if (listeners.length > 1) throw new UsageError(`${listeners.join(' and ')} conflict: give exactly one`);
  if (o.readonly && o.writeback) throw new UsageError('--readonly and --writeback conflict');
  // The ACLs travel as system.posix_acl_* xattrs.
  if (o.posixAcl && !o.xattr) throw new UsageError('--posix-acl needs xattrs, which -o no_xattr turned off');
  const modcaps = o.modcaps.add.length + o.modcaps.remove.length > 0;
  if (modcaps && o.sandbox === 'none') {
    throw new UsageError('--modcaps changes what the sandbox keeps: --sandbox=none changes no capability');
  }
  if (removesFileHandleCapability(o.modcaps) && o.inodeFileHandles !== undefined && o.inodeFileHandles !== 'never') {
    throw new UsageError(
      `--modcaps drops CAP_DAC_READ_SEARCH, which --inode-file-handles=${o.inodeFileHandles} needs to open handles`,
    );
  }
  if (o.daxWindowMiB > 0 && o.controlSocket !== undefined) {
    throw new UsageError('--dax-window is for single-export mode; with --control-socket give dax per export in `add`');
  }
  if (o.daxMinFileKiB > 0 && o.daxWindowMiB === 0) throw new UsageError('--dax-min-file-kib needs --dax-window');
  if (o.socketGroup !== undefined && o.socketPath === undefined) {
    throw new UsageError('--socket-group needs --socket-path');
  }
  const xattrmap = o.xattrmap === undefined ? null : xattrMapProblem(o.xattrmap);
  if (xattrmap !== null) throw new UsageError(`--xattrmap '${o.xattrmap}': ${xattrmap}`);
  if (o.posixAcl && !passesAcls(o.xattrmap)) {
    throw new UsageError(
      `--posix-acl needs system.posix_acl_access and system.posix_acl_default passed through unchanged, which --xattrmap '${o.xattrmap}' does not`,
    );
  }
  const uidMap = idMapProblem(o.translateUid);
  if (uidMap !== null) throw new UsageError(`--translate-uid ${uidMap}`);
  const gidMap = idMapProblem(o.translateGid);
  if (gidMap !== null) throw new UsageError(`--translate-gid ${gidMap}`);
  if (o.cache === 'none' && !st.readdirplusSet) o.readdirplus = false;
}

export function parseArgs(argv: readonly string[]): DaemonOptions {
  const st: ParseState = { opts: defaults(), readdirplusSet: false };
  for (let i = 0; i < argv.length; i++) {
    const { flag, inline } = splitArg(argv[i]);
    if (Object.hasOwn(UNSUPPORTED, flag)) throw new UsageError(`${flag}: not supported: ${UNSUPPORTED[flag]}`);
    const spec = Object.hasOwn(FLAGS, flag) ? FLAGS[flag] : undefined;
    if (spec === undefined) throw new UsageError(`${argv[i]}: unknown option (see --help)`);
    if (!spec.takesValue) {
      if (inline !== undefined) throw new UsageError(`${flag}: takes no value`);
      spec.apply(st, '');
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${flag}: needs a value`);
      value = argv[++i];
    }
    spec.apply(st, value);
  }
  validate(st);
  return st.opts;
}
