// The process that claims a spare shim (spare_shim.ts): containerd's `start`, read through /proc
// and pidfd_getfd, and what the spare takes from it to become the shim that start would have run.
// What a spare cannot take (namespaces, an LSM label, a CPU set) makes it refuse, and the start
// then runs Node itself.

import { closeSync, openSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseFlags, type ShimFlags } from './flags';
import { joinCgroupsOf } from './join_cgroups';
import { errnoName, libc } from './libc';
import { pidfdLibc } from './vm/libc_pidfd';

/** RLIMIT_CPU … RLIMIT_RTTIME. */
const RLIMITS = 16;
const NAMESPACES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts'] as const;

export interface Claimant {
  readonly pid: number;
  /** Copies of its stdin (containerd's runtime options) and stdout (where containerd reads the answer). */
  readonly stdin: number;
  readonly stdout: number;
  /** Its command line: /bin/sh, the program, containerd's flags and `start`. */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

function nulSeparated(path: string): string[] {
  const fields = readFileSync(path, 'latin1').split('\0');
  if (fields.at(-1) === '') fields.pop();
  return fields;
}

function environOf(pid: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const entry of nulSeparated(`/proc/${pid}/environ`)) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/**
 * Its stdin and stdout by pidfd_getfd(2) (containerd's are pipes; a test's may be sockets, which
 * /proc/<pid>/fd/N cannot open), then what /proc shows of it. The pidfd pins the process: a pid
 * reused meanwhile fails the copies.
 */
export function claimantOf(pid: number): Claimant {
  const calls = pidfdLibc();
  const pidfd = calls.pidfdOpen(pid);
  if (pidfd < 0) throw new Error(`pidfd_open(${pid}): ${errnoName(-pidfd)}`);
  const fds: number[] = [];
  try {
    for (const fd of [0, 1]) {
      const copy = calls.pidfdGetfd(pidfd, fd);
      if (copy < 0) throw new Error(`pidfd_getfd(${pid}, ${fd}): ${errnoName(-copy)}`);
      fds.push(copy);
    }
    const [stdin, stdout] = fds as [number, number];
    const argv = nulSeparated(`/proc/${pid}/cmdline`);
    return { pid, stdin, stdout, argv, env: environOf(pid), cwd: readlinkSync(`/proc/${pid}/cwd`) };
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  } finally {
    calls.close(pidfd);
  }
}

export function releaseClaimant(claimant: Claimant): void {
  closeSync(claimant.stdin);
  closeSync(claimant.stdout);
}

/** containerd's flags from the claimant's command line, or why they are not a start's. */
export function startFlags(claimant: Claimant): ShimFlags | string {
  const flags = parseFlags(claimant.argv.slice(2), claimant.cwd);
  return flags.action === 'start' ? flags : `claimed for ${flags.action}, not start`;
}

/** The program's files as they are now: a rebuild changes one of them. */
export function programStamp(program: string): string {
  return [program, `${program}.js`, `${program}.js.cache`]
    .map((file) => {
      try {
        const s = statSync(file);
        return `${s.ino}:${s.mtimeMs}:${s.size}`;
      } catch {
        return '-';
      }
    })
    .join(' ');
}

/** The `node` the prologue would run: the first on the claimant's PATH. */
export function nodeOnPath(path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      return realpathSync(join(dir, 'node'));
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

function readOr(path: string, otherwise: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return otherwise;
  }
}

/** /proc/PID/status as field → value, read once. */
function statusOf(pid: number | 'self'): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/status`, 'latin1').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

interface Calls {
  prlimit(pid: number, resource: number, newLimit: Buffer | null, oldLimit: Buffer | null): number;
  dup2(oldFd: number, newFd: number): number;
}

let bound: Calls | undefined;

/** Bound once: a claim is on the path of a sandbox's start. Results are -errno on failure. */
function calls(): Calls {
  if (bound === undefined) {
    const { lib, orErrno } = libc();
    const prlimit = lib.func('int prlimit(int pid, int resource, const void *new_limit, void *old_limit)');
    const dup2 = lib.func('int dup2(int oldfd, int newfd)');
    bound = {
      prlimit: (pid, resource, newLimit, oldLimit) => orErrno(prlimit(pid, resource, newLimit, oldLimit)),
      dup2: (oldFd, newFd) => orErrno(dup2(oldFd, newFd)),
    };
  }
  return bound;
}

/** Who a process is and what it may do: a spare must not serve with more than containerd's start had. */
const PRIVILEGES = ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'];

/** What this process cannot take from the claimant: it must be the same there already. */
export function untakable(claimant: Claimant): string | undefined {
  const theirStatus = statusOf(claimant.pid);
  const ownStatus = statusOf('self');
  for (const field of PRIVILEGES) {
    const theirs = theirStatus.get(field);
    if (ownStatus.get(field) !== theirs) return `the claimant has another ${field} (${theirs})`;
  }
  for (const ns of NAMESPACES) {
    const theirs = readlinkSync(`/proc/${claimant.pid}/ns/${ns}`);
    if (readlinkSync(`/proc/self/ns/${ns}`) !== theirs) return `the claimant is in another ${ns} namespace (${theirs})`;
  }
  const label = readOr(`/proc/${claimant.pid}/attr/current`, '');
  if (readOr('/proc/self/attr/current', '') !== label) return `the claimant runs under another LSM label (${label})`;
  const cpus = theirStatus.get('Cpus_allowed_list');
  if (ownStatus.get('Cpus_allowed_list') !== cpus) return `the claimant may run on CPUs ${cpus} only`;
  return undefined;
}

/**
 * Takes the claimant's cgroups, resource limits, nice value, umask and OOM score, which the
 * daemon and QEMU then inherit. (Nice applies to the calling thread: the one that spawns them.)
 */
export function takeResources(claimant: Claimant): void {
  const { pid } = claimant;
  joinCgroupsOf(pid);
  const { prlimit } = calls();
  const limit = Buffer.alloc(16);
  for (let resource = 0; resource < RLIMITS; resource++) {
    let result = prlimit(pid, resource, null, limit);
    if (result >= 0) result = prlimit(0, resource, limit, null);
    if (result < 0) throw new Error(`prlimit(${pid}, ${resource}): ${errnoName(-result)}`);
  }
  setPriority(getPriority(pid));
  process.umask(Number.parseInt(statusOf(pid).get('Umask') ?? '022', 8));
  writeFileSync('/proc/self/oom_score_adj', readFileSync(`/proc/${pid}/oom_score_adj`, 'latin1'));
}

/** Takes the claimant's working directory, its environment, and its output file for fds 1 and 2. */
export function takeSession(claimant: Claimant, stderrPath: string): void {
  process.chdir(claimant.cwd);
  for (const key of Object.keys(process.env)) delete process.env[key];
  // The prologue unsets it before anything runs (scripts/bundle.cjs); environ still shows it.
  const { NODE_EXTRA_CA_CERTS: _, ...env } = claimant.env;
  Object.assign(process.env, env);
  // Where a shim started by the prologue writes its stdout and stderr (`>"$e" 2>&1`).
  const out = openSync(stderrPath, 'w', 0o644);
  const { dup2 } = calls();
  try {
    for (const fd of [1, 2]) {
      const result = dup2(out, fd);
      if (result < 0) throw new Error(`dup2(${stderrPath}, ${fd}): ${errnoName(-result)}`);
    }
  } finally {
    closeSync(out);
  }
}
