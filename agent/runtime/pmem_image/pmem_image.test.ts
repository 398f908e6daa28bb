import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIELD, INFO_BLOCK_OFFSET, INFO_BLOCK_SIZE, PFN_ALIGN } from './pfn_info_block';
import { PMEM_PFN_UUID, pmemDeviceSize, writePmemImage } from './pmem_image';

const MIB = 1024 * 1024;

/** Bytes that pass for an erofs image: the superblock magic at 1 KiB and log2 of the block size. */
function fakeErofs(bytes: number, blockBits = 12): Buffer {
  const image = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4096) image.writeUInt32LE(i / 4096 + 1, i + 2048);
  image.writeUInt32LE(0xe0f5e1e2, 1024);
  image.writeUInt8(blockBits, 1024 + 12);
  return image;
}

/** Whether `bytes` are all zero (Buffer.equals: jest's deep equality is slow on megabytes). */
function zero(bytes: Buffer): boolean {
  return bytes.equals(Buffer.alloc(bytes.length));
}

describe('writePmemImage', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-pmem-image-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lays out a 2 MiB header with the info block at 4 KiB, then the erofs image, padded to 2 MiB', () => {
    const erofs = fakeErofs(5 * MIB + 4096);
    writeFileSync(join(dir, 'rt.erofs'), erofs);
    writePmemImage(join(dir, 'rt.erofs'), join(dir, 'rt.pmem'));
    const image = readFileSync(join(dir, 'rt.pmem'));
    expect(image.length).toBe(2 * MIB + 6 * MIB);
    expect(zero(image.subarray(0, INFO_BLOCK_OFFSET))).toBe(true);
    const block = image.subarray(INFO_BLOCK_OFFSET, INFO_BLOCK_OFFSET + INFO_BLOCK_SIZE);
    expect(block.subarray(0, 15).toString()).toBe('NVDIMM_PFN_INFO');
    expect(block.subarray(FIELD.uuid, FIELD.uuid + 16)).toEqual(PMEM_PFN_UUID);
    expect(Number(block.readBigUInt64LE(FIELD.npfns))).toBe((6 * MIB) / 4096);
    const afterBlock = INFO_BLOCK_OFFSET + INFO_BLOCK_SIZE;
    expect(zero(image.subarray(afterBlock, PFN_ALIGN))).toBe(true);
    expect(image.subarray(PFN_ALIGN, PFN_ALIGN + erofs.length).equals(erofs)).toBe(true);
    expect(zero(image.subarray(PFN_ALIGN + erofs.length))).toBe(true);
  });

  it('sizes the device as header plus the data rounded up to 2 MiB', () => {
    expect(pmemDeviceSize(2 * MIB)).toBe(4 * MIB);
    expect(pmemDeviceSize(2 * MIB + 1)).toBe(6 * MIB);
  });

  it('refuses an image that is not erofs, or erofs whose blocks are not pages (no DAX), and writes nothing', () => {
    writeFileSync(join(dir, 'zero.img'), Buffer.alloc(MIB));
    expect(() => writePmemImage(join(dir, 'zero.img'), join(dir, 'a.pmem'))).toThrow(/not an erofs image/);
    writeFileSync(join(dir, 'small.erofs'), fakeErofs(MIB, 9));
    expect(() => writePmemImage(join(dir, 'small.erofs'), join(dir, 'b.pmem'))).toThrow(/512-byte blocks/);
    expect(() => statSync(join(dir, 'a.pmem'))).toThrow();
    expect(() => statSync(join(dir, 'b.pmem'))).toThrow();
  });
});
