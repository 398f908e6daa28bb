// Host memory growth when every sandbox reads the same file. The host's caches are never dropped
// (the machine is shared): growth is measured as the change, across the reads, of
//   Σ PSS of every sandbox process (guest page caches show up in QEMU's guest RAM),
//     less their mappings of the file itself (with DAX, QEMU maps the file's page-cache pages
//     into the guest's window: those pages are the ones counted next, not more memory)
// + the host page cache holding the file (its resident pages, `fincore`, i.e. mincore(2)).
// The file lives on disk (not tmpfs) in the work dir, and only its own pages are evicted
// beforehand (`dd iflag=nocache count=0`: posix_fadvise DONTNEED on this one file), so one host
// copy counts as file_mib and each guest copy on top of it as up to file_mib more.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PrivateContainerd } from '@vfs/harness/containerd';
import { DATA_MOUNT, execIn } from './sandboxes';
import { sandboxMappingsPssMib, totalPssMib } from './sandbox_memory';

export const FILE_MIB = 64;
const FILE_NAME = 'shared.bin';
const MIB = 1024 * 1024;

/** Writes FILE_MIB of random data to `<dir>/shared.bin` (dir created); returns the dir. */
export function writeSharedFile(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const fd = openSync(join(dir, FILE_NAME), 'w');
  try {
    for (let i = 0; i < FILE_MIB; i++) writeSync(fd, randomBytes(MIB));
    // Dirty pages cannot be evicted: write them back first.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return dir;
}

function evictFromPageCache(path: string): void {
  execFileSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
}

/** MiB of `path` resident in the host page cache. */
function residentMib(path: string): number {
  const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  return Number(out.trim()) / MIB;
}

function hostFootprintMib(containerd: PrivateContainerd, path: string): number {
  const inode = statSync(path).ino;
  const mappedMib = sandboxMappingsPssMib(containerd.grpcAddress, (mapping) => mapping.inode === inode);
  return totalPssMib(containerd.grpcAddress) - mappedMib + residentMib(path);
}

/** Every sandbox `ids` reads the shared file once, one after the other; host growth in MiB. */
export async function sharedReadGrowthMib(
  containerd: PrivateContainerd,
  dataDir: string,
  ids: readonly string[],
): Promise<number> {
  const path = join(dataDir, FILE_NAME);
  evictFromPageCache(path);
  const before = hostFootprintMib(containerd, path);
  for (const id of ids) await execIn(containerd, id, `${id}-read`, `cat ${DATA_MOUNT}/${FILE_NAME} > /dev/null`);
  return hostFootprintMib(containerd, path) - before;
}
