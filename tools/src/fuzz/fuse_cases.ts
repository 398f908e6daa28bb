// A FUSE case: one request generated from (seed, case index) and the session's pool, then mutated
// below the opcode's structure: a lying in-header length, truncated or oversized arguments,
// request extensions, odd credentials, buffers split over many descriptors, too little reply
// space, the wrong queue.
import * as abi from '@vfs/daemon/fuse';
import { DEFAULT_INIT_FLAGS } from '@vfs/harness/vhost_user_driver/fuse_client';
import { HIPRIO_QUEUE, REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import { credential, type Noise } from './fuse_values';
import { OPS, type OpRequest, unknownOpcode } from './fuse_ops';
import type { Rng } from './prng';
import type { SessionPool } from './session_pool';

export interface FuseCase {
  readonly index: number;
  readonly opcode: number;
  readonly unique: bigint;
  readonly queue: number;
  /** Device-readable buffers in order, each its own descriptor (the in-header first). */
  readonly readable: Uint8Array[];
  /** Device-writable buffer lengths, each its own descriptor. */
  readonly writable: number[];
  /** The session needs a fresh INIT after it (DESTROY, a second INIT). */
  readonly resetsSession: boolean;
}

/** Each opcode's weight, then a second INIT's, DESTROY's and an unknown opcode's. */
const WEIGHTS = [...OPS.map((o) => o[2]), 0.3, 0.15, 1];
const TOTAL_WEIGHT = WEIGHTS.reduce((a, b) => a + b, 0);
const INIT_CHOICE = OPS.length;
const DESTROY_CHOICE = OPS.length + 1;
/** FUSE_EXT_GROUPS and its neighbours: extension types the daemon may parse. */
const EXT_TYPES = [0, 1, 2, 3, 0xffff_ffff];

function initArgs(rng: Rng): OpRequest {
  const a = Buffer.alloc(rng.chance(0.8) ? abi.INIT_IN_SIZE : rng.pick([0, 8, abi.INIT_IN_COMPAT_SIZE, 100]));
  const put = (at: number, v: number): void => {
    if (at + 4 <= a.length) a.writeUInt32LE(v >>> 0, at);
  };
  put(abi.InitIn.major, rng.chance(0.9) ? abi.FUSE_KERNEL_VERSION : rng.u32());
  put(abi.InitIn.minor, rng.chance(0.8) ? rng.below(45) : rng.u32());
  put(abi.InitIn.maxReadahead, rng.u32());
  put(abi.InitIn.flags, rng.chance(0.5) ? DEFAULT_INIT_FLAGS : rng.u32());
  put(abi.InitIn.flags2, rng.chance(0.5) ? 0 : rng.u32());
  return { nodeid: 0n, args: [a], writableLen: abi.OUT_HEADER_SIZE + abi.INIT_OUT_SIZE, queue: REQUEST_QUEUE };
}

/** A fuse_ext_header block (size, type) with random contents, 8-byte aligned. */
function extension(rng: Rng, noise: Noise): Buffer {
  const words = 1 + rng.below(6);
  const ext = Buffer.from(noise.take(rng, words * 8));
  ext.writeUInt32LE(rng.chance(0.8) ? words * 8 : rng.u32(), 0);
  ext.writeUInt32LE(rng.pick(EXT_TYPES), 4);
  // FUSE_EXT_GROUPS: nr_groups then the groups.
  if (words > 1) ext.writeUInt32LE(rng.chance(0.7) ? rng.below(2 * words) : rng.u32(), 8);
  return ext;
}

/** Cuts `bytes` at random places into pieces (possibly empty), each its own descriptor. */
function split(rng: Rng, bytes: Buffer): Buffer[] {
  const cuts = Array.from({ length: 1 + rng.below(6) }, () => rng.below(bytes.length + 1)).sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let at = 0;
  for (const cut of cuts) {
    parts.push(bytes.subarray(at, cut));
    at = cut;
  }
  parts.push(bytes.subarray(at));
  return parts;
}

function writableParts(rng: Rng, len: number): number[] {
  if (len === 0) return rng.chance(0.97) ? [] : [rng.below(64)];
  if (rng.chance(0.05)) return [rng.below(48)];
  if (!rng.chance(0.1)) return [len];
  const parts: number[] = [];
  let left = len;
  for (let n = 1 + rng.below(5); n > 0 && left > 0; n--) {
    const p = n === 1 ? left : rng.below(left + 1);
    parts.push(p);
    left -= p;
  }
  return parts;
}

export interface CaseInput {
  readonly pool: SessionPool;
  readonly noise: Noise;
  /** The unique of a request sent earlier in the batch (for INTERRUPT). */
  readonly recentUnique: bigint;
}

/** Case `index` as `rng` (that case's generator) makes it. */
export function fuseCase(rng: Rng, index: number, input: CaseInput): FuseCase {
  const choice = rng.weighted(WEIGHTS, TOTAL_WEIGHT);
  let opcode: number;
  let request: OpRequest;
  if (choice < OPS.length) {
    const [op, generate] = OPS[choice]!;
    opcode = op;
    request = generate({ rng, ...input });
  } else if (choice === INIT_CHOICE) {
    opcode = abi.Opcode.INIT;
    request = initArgs(rng);
  } else if (choice === DESTROY_CHOICE) {
    opcode = abi.Opcode.DESTROY;
    request = { nodeid: 0n, args: [], writableLen: abi.OUT_HEADER_SIZE, queue: REQUEST_QUEUE };
  } else {
    opcode = unknownOpcode(rng);
    request = {
      nodeid: input.pool.nodeid(rng),
      args: [input.noise.take(rng, rng.below(100))],
      writableLen: 4096,
      queue: REQUEST_QUEUE,
    };
  }
  // A SETLKW keeps its own unique: the batch INTERRUPTs a parked one by it.
  const own = opcode === abi.Opcode.SETLKW || rng.chance(0.98);
  const unique = own ? BigInt(index) + 1n : rng.pick([0n, input.recentUnique, rng.u64()]);
  return mutate(rng, index, opcode, unique, request, input.noise);
}

function mutate(rng: Rng, index: number, opcode: number, unique: bigint, r: OpRequest, noise: Noise): FuseCase {
  let args = Buffer.concat(r.args);
  if (rng.chance(0.05)) args = Buffer.concat([args, extension(rng, noise)]);
  const extLen = args.length - Buffer.concat(r.args).length;
  const honestLen = abi.IN_HEADER_SIZE + args.length;
  if (rng.chance(0.06)) args = args.subarray(0, rng.below(args.length + 1));
  if (rng.chance(0.04)) args = Buffer.concat([args, noise.take(rng, rng.below(5000))]);
  const h = Buffer.alloc(abi.IN_HEADER_SIZE);
  const lenRoll = rng.float();
  const len = lenRoll < 0.9 ? honestLen : lenRoll < 0.95 ? abi.IN_HEADER_SIZE + args.length : rng.u32();
  h.writeUInt32LE(len >>> 0, abi.InHeader.len);
  h.writeUInt32LE(opcode >>> 0, abi.InHeader.opcode);
  h.writeBigUInt64LE(BigInt.asUintN(64, unique), abi.InHeader.unique);
  h.writeBigUInt64LE(BigInt.asUintN(64, r.nodeid), abi.InHeader.nodeid);
  h.writeUInt32LE(credential(rng), abi.InHeader.uid);
  h.writeUInt32LE(credential(rng), abi.InHeader.gid);
  h.writeUInt32LE(rng.chance(0.9) ? 1 + rng.below(1000) : rng.u32(), abi.InHeader.pid);
  const extWords = rng.chance(0.02) ? rng.below(0x10000) : extLen / 8;
  h.writeUInt16LE(extWords, abi.InHeader.totalExtlen);
  const readable: Uint8Array[] = rng.chance(0.1) ? split(rng, Buffer.concat([h, args])) : [h, args];
  let queue = r.queue;
  if (rng.chance(0.02)) queue = queue === HIPRIO_QUEUE ? REQUEST_QUEUE : HIPRIO_QUEUE;
  return {
    index,
    opcode,
    unique,
    queue,
    readable,
    writable: writableParts(rng, r.writableLen),
    resetsSession: opcode === abi.Opcode.INIT || opcode === abi.Opcode.DESTROY,
  };
}
