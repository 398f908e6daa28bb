// What a private containerd's shims and pods can leave on the host when a test fails half-way:
// shim processes (found by the containerd address on their command line), the sockets those shims
// listen on in /run/containerd/s (containerd 1.6's runc shim puts them there, whatever the
// config), and the processes and cgroups of CRI pods. Everything is found precisely and removed
// by PID or by path; /run/containerd itself is shared with other containerds and never touched.

import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_FS = '/sys/fs/cgroup';
const SHIM_SOCKET_DIR = '/run/containerd/s/';

function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** PIDs of the shims containerd at `address` started: their argv has `-address <address>`. */
export function shimPidsServing(address: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      const argv = commandLine(pid) ?? [];
      return argv.some((arg, i) => arg === '-address' && argv[i + 1] === address);
    });
}

/**
 * Processes whose command line names a path under `dir` (a test's daemons, QEMUs and pool
 * services name their sockets and shared dirs there), however they were started or reparented.
 */
export function pidsMentioning(dir: string): number[] {
  const prefix = `${dir}/`;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && (commandLine(pid) ?? []).some((arg) => arg.includes(prefix)));
}

function socketInodesOf(pid: number): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'utf8' });
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined) inodes.add(inode);
    }
  } catch {
    // gone meanwhile: no sockets to remember
  }
  return inodes;
}

/**
 * The socket files in /run/containerd/s that process `pid` has open. /proc/net/unix lists every
 * socket of the network namespace, other containerds' too: only the process's own inodes count.
 */
export function shimSocketFilesOf(pid: number): string[] {
  const inodes = socketInodesOf(pid);
  return readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => inodes.has(fields[6] ?? '') && (fields[7] ?? '').startsWith(SHIM_SOCKET_DIR))
    .map((fields) => fields[7] ?? '');
}

/** The roots to look in: each cgroup v1 hierarchy, or the one cgroup v2 tree. */
function cgroupHierarchies(): string[] {
  if (existsSync(join(CGROUP_FS, 'cgroup.controllers'))) return [CGROUP_FS];
  return readdirSync(CGROUP_FS)
    .map((name) => join(CGROUP_FS, name))
    .filter((dir) => existsSync(join(dir, 'cgroup.procs')));
}

/** The cgroup directories named `path` (e.g. /vfs-e2e-x) in every hierarchy, with their descendants, deepest first. */
export function cgroupDirsUnder(path: string): string[] {
  const dirs: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
    dirs.push(dir);
  };
  for (const hierarchy of cgroupHierarchies()) {
    const top = join(hierarchy, path);
    if (existsSync(top)) walk(top);
  }
  return dirs;
}

/**
 * runc puts a container of containerd namespace NS at /NS/<id> in every hierarchy and leaves /NS
 * behind. Removed here once empty; one still holding another containerd's containers (EBUSY) is
 * not ours to remove.
 */
export function removeEmptyNamespaceCgroups(namespaces: Iterable<string>): void {
  for (const namespace of namespaces) {
    for (const hierarchy of cgroupHierarchies()) {
      try {
        rmdirSync(join(hierarchy, namespace));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'EBUSY') throw err;
      }
    }
  }
}

/** PIDs of the processes in those cgroups. */
export function pidsInCgroups(dirs: readonly string[]): number[] {
  const lines = dirs.flatMap((dir) => readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n'));
  return [...new Set(lines.filter((line) => line !== '').map(Number))];
}

/** Removes empty cgroup directories (given deepest first); returns those that would not go. */
export function removeCgroupDirs(dirs: readonly string[]): string[] {
  const stuck: string[] = [];
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch (err) {
      stuck.push(`${dir} (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  return stuck;
}
