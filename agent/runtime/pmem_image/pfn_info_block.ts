// The Linux nvdimm "pfn info block" (struct nd_pfn_sb, drivers/nvdimm/pfn.h) that turns a label-less
// virtio-pmem namespace into fsdax: at probe the guest's nd_pfn driver reads 4 KiB at offset 4 KiB,
// and when the signature, checksum and parent uuid match it creates a pfn device whose /dev/pmem0
// starts at `dataoff`, backed by struct pages, which filesystem DAX needs. A raw namespace has none.
// Kata writes the same block into its guest image (osbuilder's nsdax); the facts are the kernel's.

/** Where the kernel looks for the block (nd_pfn_validate reads SZ_4K at SZ_4K). */
export const INFO_BLOCK_OFFSET = 4096;
export const INFO_BLOCK_SIZE = 4096;
/**
 * Where the file system starts, and the alignment of the mapping: 2 MiB, a supported fsdax alignment
 * on x86-64 (PMD size), and the kernel's memremap_compat_align (subsection size) for start and end.
 */
export const PFN_ALIGN = 2 * 1024 * 1024;

const SIGNATURE = 'NVDIMM_PFN_INFO\0';
/** enum nd_pfn_mode: the struct pages live in guest RAM; the device is read-only, so they cannot live on it. */
export const PFN_MODE_RAM = 1;
const VERSION_MAJOR = 1;
/** Minor 4 has page_size and page_struct_size (the kernel assumes 4 KiB and 64 below it). */
const VERSION_MINOR = 4;
const PAGE_SIZE = 4096;
const PAGE_STRUCT_SIZE = 64;

/** Byte offsets of struct nd_pfn_sb's fields (all little-endian). */
export const FIELD = {
  signature: 0,
  uuid: 16,
  parentUuid: 32,
  flags: 48,
  versionMajor: 52,
  versionMinor: 54,
  dataoff: 56,
  npfns: 64,
  mode: 72,
  startPad: 76,
  endTrunc: 80,
  align: 84,
  pageSize: 88,
  pageStructSize: 92,
  checksum: 4088,
} as const;

export interface InfoBlockInput {
  /** The whole device: header plus file system, a multiple of PFN_ALIGN. */
  readonly deviceSize: number;
  /** The pfn device's own uuid (16 bytes); any fixed value keeps the image reproducible. */
  readonly uuid: Buffer;
}

export class PfnInfoBlockError extends Error {
  constructor(message: string) {
    super(`pfn info block: ${message}`);
    this.name = 'PfnInfoBlockError';
  }
}

/**
 * The kernel's nd_fletcher64 over little-endian 32-bit words: a 32-bit running sum in the low half,
 * the (truncated) sum of those sums in the high half.
 */
export function ndFletcher64(data: Buffer): bigint {
  let lo = 0;
  let hi = 0n;
  for (let offset = 0; offset + 4 <= data.length; offset += 4) {
    lo = (lo + data.readUInt32LE(offset)) >>> 0;
    hi += BigInt(lo);
  }
  return ((hi << 32n) | BigInt(lo)) & 0xffff_ffff_ffff_ffffn;
}

function checkInput(input: InfoBlockInput): void {
  if (input.uuid.length !== 16) throw new PfnInfoBlockError(`uuid must be 16 bytes, got ${input.uuid.length}`);
  if (!Number.isSafeInteger(input.deviceSize) || input.deviceSize % PFN_ALIGN !== 0) {
    throw new PfnInfoBlockError(`device size ${input.deviceSize} is not a multiple of ${PFN_ALIGN}`);
  }
  if (input.deviceSize <= PFN_ALIGN) {
    throw new PfnInfoBlockError(`device size ${input.deviceSize} leaves no room after the ${PFN_ALIGN}-byte header`);
  }
}

/**
 * The 4 KiB block for a namespace of `deviceSize` bytes whose data starts at PFN_ALIGN. parent_uuid
 * stays zero: a label-less (io) namespace has the null uuid, which nd_pfn_validate compares against.
 */
export function pfnInfoBlock(input: InfoBlockInput): Buffer {
  checkInput(input);
  const block = Buffer.alloc(INFO_BLOCK_SIZE);
  block.write(SIGNATURE, FIELD.signature, 'latin1');
  input.uuid.copy(block, FIELD.uuid);
  block.writeUInt16LE(VERSION_MAJOR, FIELD.versionMajor);
  block.writeUInt16LE(VERSION_MINOR, FIELD.versionMinor);
  block.writeBigUInt64LE(BigInt(PFN_ALIGN), FIELD.dataoff);
  block.writeBigUInt64LE(BigInt((input.deviceSize - PFN_ALIGN) / PAGE_SIZE), FIELD.npfns);
  block.writeUInt32LE(PFN_MODE_RAM, FIELD.mode);
  block.writeUInt32LE(PFN_ALIGN, FIELD.align);
  block.writeUInt32LE(PAGE_SIZE, FIELD.pageSize);
  block.writeUInt16LE(PAGE_STRUCT_SIZE, FIELD.pageStructSize);
  // Summed with the checksum field zero, as nd_sb_checksum does.
  block.writeBigUInt64LE(ndFletcher64(block), FIELD.checksum);
  return block;
}
