// The runtime as a virtio-pmem image: PFN_ALIGN bytes of header (the pfn info block at 4 KiB) and
// then the erofs image, padded to a multiple of PFN_ALIGN (the kernel wants the namespace's end
// aligned too). The guest's /dev/pmem0 then holds the erofs image at offset 0, mountable with dax.

import { closeSync, fstatSync, openSync, readSync, writeSync, ftruncateSync } from 'node:fs';
import { INFO_BLOCK_OFFSET, PFN_ALIGN, pfnInfoBlock, PfnInfoBlockError } from './pfn_info_block';

/** erofs's superblock: at 1 KiB, magic then checksum, compat features and log2 of the block size. */
const EROFS_SUPER_OFFSET = 1024;
const EROFS_MAGIC = 0xe0f5e1e2;
const EROFS_BLKSZBITS_OFFSET = EROFS_SUPER_OFFSET + 12;
/** erofs maps files with DAX only when its blocks are pages. */
const DAX_BLOCK_BITS = 12;
/** A fixed pfn uuid, as build-image.sh fixes the erofs one: equal inputs give an equal image. */
export const PMEM_PFN_UUID = Buffer.from('6d1f5c2e00004000800000000000fd4a', 'hex');
const COPY_CHUNK = 1024 * 1024;

/** The device size for a file system of `fsBytes`: header plus data, rounded up to PFN_ALIGN. */
export function pmemDeviceSize(fsBytes: number): number {
  return PFN_ALIGN + Math.ceil(fsBytes / PFN_ALIGN) * PFN_ALIGN;
}

/** Refuses what the guest could not mount with dax, so the build fails rather than a boot. */
export function checkErofsForDax(superblock: Buffer, path: string): void {
  if (superblock.length < EROFS_BLKSZBITS_OFFSET + 1 || superblock.readUInt32LE(EROFS_SUPER_OFFSET) !== EROFS_MAGIC) {
    throw new PfnInfoBlockError(`${path} is not an erofs image (no erofs magic at offset ${EROFS_SUPER_OFFSET})`);
  }
  const bits = superblock.readUInt8(EROFS_BLKSZBITS_OFFSET);
  if (bits !== DAX_BLOCK_BITS) {
    throw new PfnInfoBlockError(`${path} has ${2 ** bits}-byte blocks; erofs DAX needs ${2 ** DAX_BLOCK_BITS}`);
  }
}

function copyAll(fromFd: number, toFd: number, toOffset: number): number {
  const chunk = Buffer.alloc(COPY_CHUNK);
  let copied = 0;
  for (;;) {
    const read = readSync(fromFd, chunk, 0, COPY_CHUNK, copied);
    if (read === 0) return copied;
    writeSync(toFd, chunk, 0, read, toOffset + copied);
    copied += read;
  }
}

/** Writes `out` (which must not exist yet) from the erofs image `erofsPath`. */
export function writePmemImage(erofsPath: string, out: string): void {
  const input = openSync(erofsPath, 'r');
  try {
    const superblock = Buffer.alloc(EROFS_BLKSZBITS_OFFSET + 1);
    readSync(input, superblock, 0, superblock.length, 0);
    checkErofsForDax(superblock, erofsPath);
    const deviceSize = pmemDeviceSize(fstatSync(input).size);
    const output = openSync(out, 'wx', 0o644);
    try {
      writeSync(output, pfnInfoBlock({ deviceSize, uuid: PMEM_PFN_UUID }), 0, undefined, INFO_BLOCK_OFFSET);
      copyAll(input, output, PFN_ALIGN);
      ftruncateSync(output, deviceSize);
    } finally {
      closeSync(output);
    }
  } finally {
    closeSync(input);
  }
}
