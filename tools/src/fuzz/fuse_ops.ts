// One generator per FUSE opcode: the request's node id, argument blocks and reply space, built as
// the kernel builds them but from fuzzed values (pool ids mixed with bogus ones, edge sizes, any
// flags). fuse_cases.ts then mutates the encoded request (lengths, header, extensions, queue).
import * as abi from '@vfs/daemon/fuse';
import { HIPRIO_QUEUE, REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import {
  credential,
  lockOwner,
  mode,
  nameBytes,
  type Noise,
  offset64,
  openFlags,
  size32,
  xattrName,
} from './fuse_values';
import type { Rng } from './prng';
import type { SessionPool } from './session_pool';

const OP = abi.Opcode;
/** OFFSET_MAX: a lock to the end of the file. */
const LOCK_TO_EOF = 0x7fff_ffff_ffff_ffffn;
/** Reply space for requests answered with small structures (entry_out + open_out fits). */
const SMALL = 4096;
/** The most reply space a case offers (READ, READDIR, xattr lists). */
export const MAX_REPLY = 256 << 10;

export interface OpContext {
  readonly rng: Rng;
  readonly pool: SessionPool;
  readonly noise: Noise;
  /** The unique of a request sent earlier in the batch (INTERRUPT targets). */
  readonly recentUnique: bigint;
}

export interface OpRequest {
  readonly nodeid: bigint;
  readonly args: Buffer[];
  /** Reply space: the out-header plus this many bytes at most. */
  readonly writableLen: number;
  readonly queue: number;
}

type OpGenerator = (c: OpContext) => OpRequest;

/** A fixed-size argument block with little-endian field setters. */
class Block {
  readonly buf: Buffer;

  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }

  u32(at: number, v: number): this {
    this.buf.writeUInt32LE(v >>> 0, at);
    return this;
  }

  u64(at: number, v: bigint): this {
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), at);
    return this;
  }
}

const req = (nodeid: bigint, args: Buffer[], writableLen = SMALL, queue = REQUEST_QUEUE): OpRequest => ({
  nodeid,
  args,
  writableLen,
  queue,
});

/** Reply space for a read of `size` bytes: usually what it asks for, capped. */
function replySpace(size: number): number {
  return abi.OUT_HEADER_SIZE + Math.min(size, MAX_REPLY);
}

type OpEntry = readonly [opcode: number, generate: OpGenerator, weight: number];

/** An opcode whose request is a node id and one argument block. */
function entryOp(op: number, build: (c: OpContext) => Buffer, weight = 2): OpEntry {
  return [op, (c) => req(c.pool.nodeid(c.rng), [build(c)]), weight];
}

function ioIn(c: OpContext, fh: bigint, size: number): Block {
  return new Block(abi.READ_IN_SIZE)
    .u64(abi.ReadIn.fh, fh)
    .u64(abi.ReadIn.offset, offset64(c.rng))
    .u32(abi.ReadIn.size, size)
    .u32(abi.ReadIn.readFlags, c.rng.chance(0.9) ? 0 : c.rng.u32())
    .u64(abi.ReadIn.lockOwner, lockOwner(c.rng))
    .u32(abi.ReadIn.flags, c.rng.chance(0.9) ? 0 : openFlags(c.rng));
}

function lkIn(c: OpContext): Buffer {
  const start = c.rng.chance(0.8) ? BigInt(c.rng.below(64)) : offset64(c.rng);
  const end = c.rng.chance(0.3) ? LOCK_TO_EOF : start + BigInt(c.rng.below(64));
  return new Block(abi.LK_IN_SIZE)
    .u64(abi.LkIn.fh, c.pool.fileHandle(c.rng))
    .u64(abi.LkIn.owner, lockOwner(c.rng))
    .u64(abi.LkIn.lk + abi.FileLock.start, start)
    .u64(abi.LkIn.lk + abi.FileLock.end, end)
    .u32(abi.LkIn.lk + abi.FileLock.type, c.rng.chance(0.95) ? c.rng.below(3) : c.rng.u32())
    .u32(abi.LkIn.lk + abi.FileLock.pid, c.rng.below(100))
    .u32(abi.LkIn.lkFlags, c.rng.chance(0.8) ? 0 : c.rng.chance(0.9) ? abi.FUSE_LK_FLOCK : c.rng.u32()).buf;
}

function setattrIn(c: OpContext): Buffer {
  const { rng } = c;
  const valid = rng.chance(0.1) ? rng.u32() : rng.u32() & 0xfff;
  return new Block(abi.SETATTR_IN_SIZE)
    .u32(abi.SetattrIn.valid, valid)
    .u64(abi.SetattrIn.fh, c.pool.fileHandle(rng))
    .u64(abi.SetattrIn.size, rng.chance(0.7) ? BigInt(rng.below(100_000)) : offset64(rng))
    .u64(abi.SetattrIn.lockOwner, lockOwner(rng))
    .u64(abi.SetattrIn.atime, rng.chance(0.9) ? BigInt(rng.below(2 ** 31)) : rng.u64())
    .u64(abi.SetattrIn.mtime, rng.chance(0.9) ? BigInt(rng.below(2 ** 31)) : rng.u64())
    .u32(abi.SetattrIn.atimensec, rng.chance(0.9) ? rng.below(1e9) : rng.u32())
    .u32(abi.SetattrIn.mtimensec, rng.chance(0.9) ? rng.below(1e9) : rng.u32())
    .u32(abi.SetattrIn.mode, mode(rng, rng.chance(0.1)))
    .u32(abi.SetattrIn.uid, credential(rng))
    .u32(abi.SetattrIn.gid, credential(rng)).buf;
}

function forgetOne(c: OpContext): OpRequest {
  const a = new Block(abi.FORGET_IN_SIZE).u64(0, c.rng.chance(0.8) ? 1n : offset64(c.rng)).buf;
  return req(c.pool.nodeid(c.rng), [a], 0, HIPRIO_QUEUE);
}

function batchForget(c: OpContext): OpRequest {
  const n = c.rng.chance(0.9) ? 1 + c.rng.below(16) : c.rng.below(300);
  const declared = c.rng.chance(0.9) ? n : c.rng.u32();
  const a = new Block(abi.BATCH_FORGET_IN_SIZE + n * abi.FORGET_ONE_SIZE).u32(0, declared);
  for (let i = 0; i < n; i++) {
    a.u64(8 + i * 16, c.pool.nodeid(c.rng));
    a.u64(16 + i * 16, c.rng.chance(0.8) ? 1n : offset64(c.rng));
  }
  return req(0n, [a.buf], 0, HIPRIO_QUEUE);
}

function removemapping(c: OpContext): OpRequest {
  const n = c.rng.below(8);
  const a = new Block(abi.REMOVEMAPPING_IN_SIZE + n * abi.REMOVEMAPPING_ONE_SIZE).u32(
    0,
    c.rng.chance(0.8) ? n : c.rng.u32(),
  );
  for (let i = 0; i < n; i++) {
    const at = abi.REMOVEMAPPING_IN_SIZE + i * abi.REMOVEMAPPING_ONE_SIZE;
    a.u64(at, c.rng.chance(0.6) ? daxChunk(c.rng) : offset64(c.rng));
    a.u64(at + 8, c.rng.chance(0.6) ? DAX_CHUNK : offset64(c.rng));
  }
  return req(c.pool.nodeid(c.rng), [a.buf]);
}

/** The DAX mapping granule the kernel uses (2 MiB), and offsets in a small window made of it. */
const DAX_CHUNK = 2n << 20n;
function daxChunk(rng: Rng): bigint {
  return BigInt(rng.below(40)) * DAX_CHUNK;
}

const UNKNOWN_OPCODES = [0, 7, 19, 54, 55, 100, 4095, 4096, 0x7fff_ffff, 0xffff_ffff];

/** Opcodes that are not ours to generate: chosen at random, arguments garbage. */
export function unknownOpcode(rng: Rng): number {
  return rng.chance(0.7) ? rng.pick(UNKNOWN_OPCODES) : rng.u32();
}

/** Generator and weight of each opcode. */
export const OPS: readonly OpEntry[] = [
  [OP.LOOKUP, (c) => req(c.pool.nodeid(c.rng), [nameBytes(c.rng)]), 12],
  [
    OP.GETATTR,
    (c) =>
      req(c.pool.nodeid(c.rng), [
        new Block(abi.GETATTR_IN_SIZE)
          .u32(abi.GetattrIn.flags, c.rng.chance(0.5) ? abi.FUSE_GETATTR_FH : c.rng.below(4))
          .u64(abi.GetattrIn.fh, c.pool.fileHandle(c.rng)).buf,
      ]),
    8,
  ],
  [OP.SETATTR, (c) => req(c.pool.nodeid(c.rng), [setattrIn(c)]), 5],
  [OP.READLINK, (c) => req(c.pool.nodeid(c.rng), [], c.rng.chance(0.8) ? SMALL : c.rng.below(64)), 2],
  [
    OP.SYMLINK,
    (c) =>
      req(c.pool.nodeid(c.rng), [nameBytes(c.rng), c.rng.chance(0.7) ? nameBytes(c.rng) : Buffer.from('../../x\0')]),
    2,
  ],
  entryOp(OP.MKNOD, (c) =>
    Buffer.concat([
      new Block(abi.MKNOD_IN_SIZE)
        .u32(abi.MknodIn.mode, mode(c.rng, true))
        .u32(abi.MknodIn.rdev, c.rng.chance(0.7) ? 0 : c.rng.pick([0x103, 0x700, c.rng.u32()]))
        .u32(abi.MknodIn.umask, c.rng.below(0o1000)).buf,
      nameBytes(c.rng),
    ]),
  ),
  entryOp(OP.MKDIR, (c) =>
    Buffer.concat([
      new Block(abi.MKDIR_IN_SIZE).u32(abi.MkdirIn.mode, mode(c.rng)).u32(abi.MkdirIn.umask, c.rng.below(0o1000)).buf,
      nameBytes(c.rng),
    ]),
  ),
  entryOp(OP.UNLINK, (c) => nameBytes(c.rng)),
  entryOp(OP.RMDIR, (c) => nameBytes(c.rng)),
  entryOp(OP.RENAME, (c) =>
    Buffer.concat([new Block(abi.RENAME_IN_SIZE).u64(0, c.pool.nodeid(c.rng)).buf, nameBytes(c.rng), nameBytes(c.rng)]),
  ),
  entryOp(OP.RENAME2, (c) =>
    Buffer.concat([
      new Block(abi.RENAME2_IN_SIZE)
        .u64(abi.Rename2In.newdir, c.pool.nodeid(c.rng))
        .u32(abi.Rename2In.flags, c.rng.chance(0.8) ? c.rng.below(8) : c.rng.u32()).buf,
      nameBytes(c.rng),
      nameBytes(c.rng),
    ]),
  ),
  entryOp(OP.LINK, (c) =>
    Buffer.concat([new Block(abi.LINK_IN_SIZE).u64(0, c.pool.nodeid(c.rng)).buf, nameBytes(c.rng)]),
  ),
  entryOp(
    OP.OPEN,
    (c) =>
      new Block(abi.OPEN_IN_SIZE).u32(abi.OpenIn.flags, openFlags(c.rng)).u32(abi.OpenIn.openFlags, c.rng.below(4)).buf,
    6,
  ),
  [
    OP.READ,
    (c) => {
      const size = size32(c.rng);
      return req(c.pool.nodeid(c.rng), [ioIn(c, c.pool.fileHandle(c.rng), size).buf], replySpace(size));
    },
    6,
  ],
  [
    OP.WRITE,
    (c) => {
      const len = c.rng.chance(0.9) ? c.rng.below(70_000) : size32(c.rng);
      const data = c.noise.take(c.rng, Math.min(len, MAX_REPLY));
      const a = ioIn(c, c.pool.fileHandle(c.rng), len).u32(
        abi.WriteIn.writeFlags,
        c.rng.chance(0.8) ? 0 : c.rng.below(8),
      );
      return req(c.pool.nodeid(c.rng), [a.buf, data]);
    },
    6,
  ],
  [OP.STATFS, (c) => req(c.pool.nodeid(c.rng), []), 1],
  [
    OP.RELEASE,
    (c) =>
      req(c.pool.nodeid(c.rng), [
        new Block(abi.RELEASE_IN_SIZE)
          .u64(abi.ReleaseIn.fh, c.pool.fileHandle(c.rng))
          .u32(abi.ReleaseIn.flags, openFlags(c.rng))
          .u32(abi.ReleaseIn.releaseFlags, c.rng.below(4))
          .u64(abi.ReleaseIn.lockOwner, lockOwner(c.rng)).buf,
      ]),
    5,
  ],
  [
    OP.FSYNC,
    (c) =>
      req(c.pool.nodeid(c.rng), [
        new Block(abi.FSYNC_IN_SIZE).u64(0, c.pool.fileHandle(c.rng)).u32(8, c.rng.below(2)).buf,
      ]),
    1,
  ],
  [
    OP.SETXATTR,
    (c) => {
      const value = c.noise.take(c.rng, c.rng.chance(0.8) ? c.rng.below(64) : c.rng.below(70_000));
      const ext = c.rng.chance(0.8);
      const a = new Block(ext ? abi.SETXATTR_IN_SIZE : abi.SETXATTR_IN_COMPAT_SIZE)
        .u32(abi.SetxattrIn.size, c.rng.chance(0.9) ? value.length : size32(c.rng))
        .u32(abi.SetxattrIn.flags, c.rng.chance(0.8) ? c.rng.below(3) : c.rng.u32());
      if (ext) a.u32(abi.SetxattrIn.setxattrFlags, c.rng.chance(0.9) ? 0 : c.rng.u32());
      return req(c.pool.nodeid(c.rng), [Buffer.concat([a.buf, xattrName(c.rng), value])]);
    },
    3,
  ],
  [
    OP.GETXATTR,
    (c) => {
      const size = c.rng.chance(0.3) ? 0 : size32(c.rng);
      const a = new Block(abi.GETXATTR_IN_SIZE).u32(0, size).buf;
      return req(c.pool.nodeid(c.rng), [Buffer.concat([a, xattrName(c.rng)])], replySpace(Math.max(size, 8)));
    },
    3,
  ],
  [
    OP.LISTXATTR,
    (c) => {
      const size = c.rng.chance(0.3) ? 0 : size32(c.rng);
      return req(
        c.pool.nodeid(c.rng),
        [new Block(abi.GETXATTR_IN_SIZE).u32(0, size).buf],
        replySpace(Math.max(size, 8)),
      );
    },
    2,
  ],
  entryOp(OP.REMOVEXATTR, (c) => xattrName(c.rng)),
  [
    OP.FLUSH,
    (c) =>
      req(c.pool.nodeid(c.rng), [
        new Block(abi.FLUSH_IN_SIZE)
          .u64(abi.FlushIn.fh, c.pool.fileHandle(c.rng))
          .u64(abi.FlushIn.lockOwner, lockOwner(c.rng)).buf,
      ]),
    3,
  ],
  entryOp(OP.OPENDIR, (c) => new Block(abi.OPEN_IN_SIZE).u32(0, c.rng.chance(0.8) ? 0 : openFlags(c.rng)).buf, 4),
  [
    OP.READDIR,
    (c) => {
      const size = size32(c.rng);
      return req(c.pool.nodeid(c.rng), [ioIn(c, c.pool.dirHandle(c.rng), size).buf], replySpace(size));
    },
    3,
  ],
  [
    OP.READDIRPLUS,
    (c) => {
      const size = size32(c.rng);
      return req(c.pool.nodeid(c.rng), [ioIn(c, c.pool.dirHandle(c.rng), size).buf], replySpace(size));
    },
    3,
  ],
  [
    OP.RELEASEDIR,
    (c) =>
      req(c.pool.nodeid(c.rng), [new Block(abi.RELEASE_IN_SIZE).u64(abi.ReleaseIn.fh, c.pool.dirHandle(c.rng)).buf]),
    3,
  ],
  [
    OP.FSYNCDIR,
    (c) =>
      req(c.pool.nodeid(c.rng), [
        new Block(abi.FSYNC_IN_SIZE).u64(0, c.pool.dirHandle(c.rng)).u32(8, c.rng.below(2)).buf,
      ]),
    1,
  ],
  entryOp(OP.GETLK, lkIn, 3),
  entryOp(OP.SETLK, lkIn, 3),
  [OP.SETLKW, (c) => req(c.pool.nodeid(c.rng), [lkIn(c)]), 2],
  entryOp(OP.ACCESS, (c) => new Block(abi.ACCESS_IN_SIZE).u32(0, c.rng.chance(0.9) ? c.rng.below(8) : c.rng.u32()).buf),
  [
    OP.CREATE,
    (c) =>
      req(c.pool.nodeid(c.rng), [
        Buffer.concat([
          new Block(abi.CREATE_IN_SIZE)
            .u32(abi.CreateIn.flags, openFlags(c.rng) | 0o100)
            .u32(abi.CreateIn.mode, mode(c.rng, c.rng.chance(0.1)) | (c.rng.chance(0.9) ? 0o100000 : 0))
            .u32(abi.CreateIn.umask, c.rng.below(0o1000))
            .u32(abi.CreateIn.openFlags, c.rng.below(4)).buf,
          nameBytes(c.rng),
        ]),
      ]),
    5,
  ],
  [
    OP.INTERRUPT,
    (c) =>
      req(
        0n,
        [new Block(abi.INTERRUPT_IN_SIZE).u64(0, c.rng.chance(0.7) ? c.recentUnique : c.rng.u64()).buf],
        0,
        HIPRIO_QUEUE,
      ),
    1,
  ],
  [OP.FORGET, forgetOne, 2],
  [OP.BATCH_FORGET, batchForget, 2],
  [
    OP.FALLOCATE,
    (c) =>
      req(c.pool.nodeid(c.rng), [
        new Block(abi.FALLOCATE_IN_SIZE)
          .u64(abi.FallocateIn.fh, c.pool.fileHandle(c.rng))
          .u64(abi.FallocateIn.offset, offset64(c.rng))
          .u64(abi.FallocateIn.length, offset64(c.rng))
          .u32(abi.FallocateIn.mode, c.rng.chance(0.6) ? 0 : c.rng.pick([1, 2, 3, 8, 0x10, 0x20, 0x40, c.rng.u32()]))
          .buf,
      ]),
    2,
  ],
  [
    OP.LSEEK,
    (c) =>
      req(c.pool.nodeid(c.rng), [
        new Block(abi.LSEEK_IN_SIZE)
          .u64(abi.LseekIn.fh, c.pool.fileHandle(c.rng))
          .u64(abi.LseekIn.offset, offset64(c.rng))
          .u32(abi.LseekIn.whence, c.rng.chance(0.9) ? c.rng.below(5) : c.rng.u32()).buf,
      ]),
    2,
  ],
  ...[OP.COPY_FILE_RANGE, OP.COPY_FILE_RANGE_64].map(
    (op) =>
      [
        op,
        (c: OpContext) =>
          req(c.pool.nodeid(c.rng), [
            new Block(abi.COPY_FILE_RANGE_IN_SIZE)
              .u64(abi.CopyFileRangeIn.fhIn, c.pool.fileHandle(c.rng))
              .u64(abi.CopyFileRangeIn.offIn, offset64(c.rng))
              .u64(abi.CopyFileRangeIn.nodeidOut, c.pool.nodeid(c.rng))
              .u64(abi.CopyFileRangeIn.fhOut, c.pool.fileHandle(c.rng))
              .u64(abi.CopyFileRangeIn.offOut, offset64(c.rng))
              .u64(abi.CopyFileRangeIn.len, c.rng.chance(0.6) ? BigInt(c.rng.below(200_000)) : offset64(c.rng))
              .u64(abi.CopyFileRangeIn.flags, c.rng.chance(0.9) ? 0n : c.rng.u64()).buf,
          ]),
        op === OP.COPY_FILE_RANGE ? 2 : 1,
      ] as OpEntry,
  ),
  entryOp(OP.SYNCFS, () => Buffer.alloc(abi.SYNCFS_IN_SIZE)),
  entryOp(
    OP.SETUPMAPPING,
    (c) =>
      new Block(abi.SETUPMAPPING_IN_SIZE)
        .u64(abi.SetupmappingIn.fh, c.pool.fileHandle(c.rng))
        .u64(abi.SetupmappingIn.foffset, c.rng.chance(0.6) ? daxChunk(c.rng) : offset64(c.rng))
        .u64(abi.SetupmappingIn.len, c.rng.chance(0.6) ? DAX_CHUNK : offset64(c.rng))
        .u64(abi.SetupmappingIn.flags, BigInt(c.rng.below(4)))
        .u64(abi.SetupmappingIn.moffset, c.rng.chance(0.6) ? daxChunk(c.rng) : offset64(c.rng)).buf,
  ),
  [OP.REMOVEMAPPING, removemapping, 1],
  entryOp(OP.TMPFILE, (c) =>
    Buffer.concat([
      new Block(abi.CREATE_IN_SIZE).u32(0, openFlags(c.rng)).u32(4, mode(c.rng)).u32(8, c.rng.below(0o1000)).buf,
      nameBytes(c.rng),
    ]),
  ),
  entryOp(OP.STATX, (c) => c.noise.take(c.rng, 24)),
  ...[OP.BMAP, OP.IOCTL, OP.POLL, OP.NOTIFY_REPLY].map(
    (op) => [op, (c: OpContext) => req(c.pool.nodeid(c.rng), [c.noise.take(c.rng, c.rng.below(80))]), 0.5] as OpEntry,
  ),
];

/** The name of an opcode for reports. */
export function opName(opcode: number): string {
  for (const [name, value] of Object.entries(OP)) if (value === opcode) return name;
  return `opcode ${opcode}`;
}
