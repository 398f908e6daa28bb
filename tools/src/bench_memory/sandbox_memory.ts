// PSS of each sandbox's host processes, by role (vfs_bench/coldstart/pss.ts): a sandbox is one shim
// serving our containerd and everything it started (vfs: vfs-virtiofsd with its unshare wrapper
// and QEMU; runc: the container's processes). Plus, of QEMU's, the TCG code cache: under TCG,
// QEMU 7.2 allocates its translated-code buffer (1 GiB, the default tb-size) as its one anonymous
// read-write-execute mapping, no other mapping of QEMU being writable and executable; it becomes
// resident as code is translated, in 2 MiB transparent huge pages. KVM has none.
// PSS counts a page only where a process maps it. A VM resumed from a template runs on a memfd the
// shim filled (template/sparse_copy.ts), so pages its guest has not touched since are held but in
// no process's page tables. So each QEMU's column adds, per guest-RAM memfd it maps, the file's
// allocated bytes less the PSS of every mapping of it in the sandbox (QEMU's and the daemon's:
// summed over all processes, PSS counts each mapped page once). For a booted VM that is ≈ 0: its
// guest wrote every page it holds through QEMU's mapping or the daemon's.

import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { shimPidsServing } from '@vfs/harness/host_leftovers';
import { processTree } from '../bench_common/process_cpu';
import { type MappingHeader, mappingsKib, mappingsPssKib } from '../bench_common/process_memory';
import { pssByRole, type Role } from '../vfs_bench/coldstart/pss';

export interface SandboxPss {
  /** MiB by role. */
  readonly roles: Readonly<Record<Role, number>>;
  /** MiB of QEMU's PSS in its TCG code buffer. */
  readonly tcgCodeCache: number;
  /** MiB of guest RAM held in QEMU's memfds that no process maps (in roles.qemu too). */
  readonly guestRamUnmapped: number;
}

function isTcgCodeBuffer(mapping: MappingHeader): boolean {
  return mapping.perms === 'rwxp' && mapping.inode === 0 && mapping.path === '';
}

function qemuPids(pids: readonly number[]): number[] {
  return pids.filter((pid) => {
    try {
      return basename(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '').startsWith('qemu-system');
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** PSS of the mappings `keep` selects in processes `pids`, MiB; processes gone meanwhile count 0. */
function mappingsPssMib(pids: readonly number[], keep: (mapping: MappingHeader) => boolean): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      kib += mappingsPssKib(readFileSync(`/proc/${pid}/smaps`, 'latin1'), keep);
    } catch {
      // gone meanwhile
    }
  }
  return kib / 1024;
}

function tcgCodeCacheMib(pids: readonly number[]): number {
  return mappingsPssMib(qemuPids(pids), isTcgCodeBuffer);
}

/** The memfds `pid` holds open, by inode: their allocated bytes. */
function memfdBytes(pid: number): Map<number, number> {
  const files = new Map<number, number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return files; // gone meanwhile
  }
  for (const fd of fds) {
    const path = `/proc/${pid}/fd/${fd}`;
    try {
      if (!readlinkSync(path).startsWith('/memfd:')) continue;
      const { ino, blocks } = statSync(path);
      files.set(ino, blocks * 512);
    } catch {
      // closed meanwhile
    }
  }
  return files;
}

function smapsOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/smaps`, 'latin1');
  } catch {
    return ''; // gone meanwhile
  }
}

/**
 * What QEMU `qemu` holds of its guest RAM (the memfds it maps) that no process of `tree` maps, MiB:
 * allocated bytes less the PSS of the file's mappings over the tree, and less what of it is in swap
 * (which a tmpfs file's blocks count, and PSS, as for anonymous memory, does not; QEMU maps the
 * whole file, so its mapping's Swap is the file's).
 */
function unmappedGuestRamMib(qemu: number, tree: readonly number[]): number {
  const qemuSmaps = smapsOf(qemu);
  const treeSmaps = tree.map(smapsOf);
  let kib = 0;
  for (const [inode, bytes] of memfdBytes(qemu)) {
    const ofFile = (m: MappingHeader): boolean => m.inode === inode && m.path.startsWith('/memfd:');
    if (mappingsKib(qemuSmaps, ofFile, 'Rss') === 0) continue; // not guest RAM QEMU maps
    const mappedKib = treeSmaps.reduce((sum, smaps) => sum + mappingsKib(smaps, ofFile, 'Pss'), 0);
    kib += Math.max(0, bytes / 1024 - mappedKib - mappingsKib(qemuSmaps, ofFile, 'Swap'));
  }
  return kib / 1024;
}

/** How many of the sandboxes of `address` run a QEMU that resumed a saved state (`-incoming`). */
export function resumedVms(address: string): number {
  return qemuPids(processTree(...shimPidsServing(address))).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('-incoming');
    } catch {
      return false; // gone meanwhile
    }
  }).length;
}

/** One entry per shim serving `address`: that sandbox's PSS, with its template copy's unmapped RAM. */
export function sandboxesPss(address: string): SandboxPss[] {
  return shimPidsServing(address).map((shim) => {
    const tree = processTree(shim);
    const roles = pssByRole(tree);
    const unmapped = qemuPids(tree).reduce((sum, pid) => sum + unmappedGuestRamMib(pid, tree), 0);
    return {
      roles: { ...roles, qemu: roles.qemu + unmapped },
      tcgCodeCache: tcgCodeCacheMib(tree),
      guestRamUnmapped: unmapped,
    };
  });
}

/** PSS of the mappings `keep` selects, over every process of every sandbox of `address`, MiB. */
export function sandboxMappingsPssMib(address: string, keep: (mapping: MappingHeader) => boolean): number {
  return mappingsPssMib(processTree(...shimPidsServing(address)), keep);
}

/** PSS of every process of every sandbox of `address`, MiB. */
export function totalPssMib(address: string): number {
  let total = 0;
  for (const { roles } of sandboxesPss(address)) total += roles.shim + roles.daemon + roles.qemu + roles.container;
  return total;
}
