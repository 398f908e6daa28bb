// PSS of each sandbox's host processes, by role (vfs_bench/coldstart/pss.ts): a sandbox is one shim
// serving our containerd and everything it started (vfs: vfs-virtiofsd with its unshare wrapper
// and QEMU; runc: the container's processes). Plus, of QEMU's, the TCG code cache: under TCG,
// QEMU 7.2 allocates its translated-code buffer (1 GiB, the default tb-size) as its one anonymous
// read-write-execute mapping, no other mapping of QEMU being writable and executable; it becomes
// resident as code is translated, in 2 MiB transparent huge pages. KVM has none.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { shimPidsServing } from '@vfs/harness/host_leftovers';
import { processTree } from '../bench_common/process_cpu';
import { type MappingHeader, mappingsPssKib } from '../bench_common/process_memory';
import { pssByRole, type Role } from '../vfs_bench/coldstart/pss';

export interface SandboxPss {
  /** MiB by role. */
  readonly roles: Readonly<Record<Role, number>>;
  /** MiB of QEMU's PSS in its TCG code buffer. */
  readonly tcgCodeCache: number;
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

/** One entry per shim serving `address`: that sandbox's PSS. */
export function sandboxesPss(address: string): SandboxPss[] {
  return shimPidsServing(address).map((shim) => {
    const tree = processTree(shim);
    return { roles: pssByRole(tree), tcgCodeCache: tcgCodeCacheMib(tree) };
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
