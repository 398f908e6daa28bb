// Per-inode DAX (the guest mounted dax=inode): which files the guest should map through the window.
// Large regular files gain from it (mmap and random reads straight from the host page cache);
// small ones lose, since each mapping is a whole 2 MiB range set up through the daemon and the VMM.
import { FUSE_ATTR_DAX } from '../fuse/abi';
import { S_IFMT, S_IFREG, STX } from '../sys/fs';

/**
 * FUSE_ATTR_DAX for a regular file of at least `minBytes` in statx result `stx`, else 0.
 * `minBytes` 0 = per-inode DAX off: the flag is meaningless then (dax=always maps every file).
 * Allocation-free: it runs for every attribute reply.
 */
export function inodeDaxFlag(stx: DataView, minBytes: number): number {
  if (minBytes === 0 || (stx.getUint16(STX.mode, true) & S_IFMT) !== S_IFREG) return 0;
  const size = stx.getUint32(STX.size + 4, true) * 0x1_0000_0000 + stx.getUint32(STX.size, true);
  return size >= minBytes ? FUSE_ATTR_DAX : 0;
}
