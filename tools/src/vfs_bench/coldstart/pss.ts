// Proportional set size (smaps_rollup's Pss: shared pages split among their users) of a sandbox's
// host processes, by role: the shims serving our containerd and everything they started (vfs:
// vfs-virtiofsd with its unshare wrapper, QEMU; runc: the container's processes).

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parsePssKib } from '../../bench_common/process_memory';

export type Role = 'shim' | 'daemon' | 'qemu' | 'container';
export const ROLES: readonly Role[] = ['shim', 'daemon', 'qemu', 'container'];

/** A process's role from its command line (a shim's own pid is passed as such). */
export function roleOf(argv: readonly string[]): Role {
  if (argv.some((arg) => basename(arg).startsWith('containerd-shim-'))) return 'shim';
  if (argv.some((arg) => basename(arg) === 'vfs-virtiofsd')) return 'daemon';
  if (basename(argv[0] ?? '').startsWith('qemu-system')) return 'qemu';
  return 'container';
}

function readOr<T>(path: string, parse: (text: string) => T, fallback: T): T {
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch {
    // the process exited meanwhile
    return fallback;
  }
}

/** Pss in MiB of each role over the processes. */
export function pssByRole(pids: readonly number[]): Record<Role, number> {
  const out: Record<Role, number> = { shim: 0, daemon: 0, qemu: 0, container: 0 };
  for (const pid of pids) {
    const argv = readOr(`/proc/${pid}/cmdline`, (text) => text.split('\0').filter((a) => a !== ''), []);
    const kib = readOr(`/proc/${pid}/smaps_rollup`, parsePssKib, 0);
    out[roleOf(argv)] += kib / 1024;
  }
  return out;
}
