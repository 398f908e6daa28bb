import {
  FIELD,
  INFO_BLOCK_SIZE,
  ndFletcher64,
  PFN_ALIGN,
  PFN_MODE_RAM,
  pfnInfoBlock,
  PfnInfoBlockError,
} from './pfn_info_block';

const MIB = 1024 * 1024;
const uuid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

/**
 * nd_fletcher64 in closed form, independent of the running sums: the low half is the sum of the n
 * words, the high half sum over i of (n - i) * word[i], both mod 2^32.
 */
function closedFormFletcher(data: Buffer): bigint {
  const n = data.length / 4;
  let lo = 0n;
  let hi = 0n;
  for (let i = 0; i < n; i++) {
    const word = BigInt(data.readUInt32LE(i * 4));
    lo += word;
    hi += BigInt(n - i) * word;
  }
  return ((hi % 2n ** 32n) << 32n) | (lo % 2n ** 32n);
}

describe('ndFletcher64', () => {
  it('sums little-endian words into the low half and the running sums into the high half', () => {
    const words = Buffer.alloc(12);
    for (const [i, w] of [1, 2, 3].entries()) words.writeUInt32LE(w, i * 4);
    // lo = 1+2+3 = 6; hi = 1 + 3 + 6 = 10.
    expect(ndFletcher64(words)).toBe((10n << 32n) | 6n);
  });

  it('wraps both halves at 32 bits as the kernel does', () => {
    const data = Buffer.alloc(INFO_BLOCK_SIZE, 0xff);
    expect(ndFletcher64(data)).toBe(closedFormFletcher(data));
  });
});

describe('pfnInfoBlock', () => {
  const deviceSize = 96 * MIB;
  const block = pfnInfoBlock({ deviceSize, uuid });

  it('is one 4 KiB struct nd_pfn_sb with the pfn signature, version 1.4 and the fsdax fields', () => {
    expect(block.length).toBe(4096);
    expect(block.subarray(FIELD.signature, 16).toString('latin1')).toBe('NVDIMM_PFN_INFO\0');
    expect(block.subarray(FIELD.uuid, FIELD.uuid + 16)).toEqual(uuid);
    expect([block.readUInt16LE(FIELD.versionMajor), block.readUInt16LE(FIELD.versionMinor)]).toEqual([1, 4]);
    expect(block.readUInt32LE(FIELD.flags)).toBe(0);
    expect(block.readUInt32LE(FIELD.mode)).toBe(PFN_MODE_RAM);
    expect(block.readUInt32LE(FIELD.startPad)).toBe(0);
    expect(block.readUInt32LE(FIELD.endTrunc)).toBe(0);
    expect(block.readUInt32LE(FIELD.pageSize)).toBe(4096);
    expect(block.readUInt16LE(FIELD.pageStructSize)).toBe(64);
  });

  it('puts the data at 2 MiB, aligned as it declares, and counts the pages after it', () => {
    const dataoff = Number(block.readBigUInt64LE(FIELD.dataoff));
    const align = block.readUInt32LE(FIELD.align);
    expect([dataoff, align]).toEqual([2 * MIB, 2 * MIB]);
    // nd_pfn_validate: dataoff inside the namespace, aligned to `align` and to the page size.
    expect(dataoff % align).toBe(0);
    expect(dataoff).toBeLessThan(deviceSize);
    expect(Number(block.readBigUInt64LE(FIELD.npfns))).toBe((deviceSize - dataoff) / 4096);
  });

  it('leaves parent_uuid null, the uuid of a label-less virtio-pmem namespace, and the padding zero', () => {
    expect(block.subarray(FIELD.parentUuid, FIELD.parentUuid + 16)).toEqual(Buffer.alloc(16));
    expect(block.subarray(94, FIELD.checksum)).toEqual(Buffer.alloc(FIELD.checksum - 94));
  });

  it('carries the fletcher64 of the block taken with the checksum field zero', () => {
    const zeroed = Buffer.from(block);
    zeroed.fill(0, FIELD.checksum);
    expect(block.readBigUInt64LE(FIELD.checksum)).toBe(closedFormFletcher(zeroed));
    expect(block.readBigUInt64LE(FIELD.checksum)).not.toBe(0n);
  });

  it('refuses a device the kernel could not align or that holds no data', () => {
    expect(() => pfnInfoBlock({ deviceSize: deviceSize + 4096, uuid })).toThrow(PfnInfoBlockError);
    expect(() => pfnInfoBlock({ deviceSize: PFN_ALIGN, uuid })).toThrow(/no room/);
    expect(() => pfnInfoBlock({ deviceSize, uuid: Buffer.alloc(8) })).toThrow(/16 bytes/);
  });
});
