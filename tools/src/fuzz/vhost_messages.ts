// Hostile vhost-user sequences on a connection of their own: QEMU's set-up sequence (features,
// owner, a memory table over a memfd full of random bytes, one ring laid out in it, kick and call
// eventfds), each step at times skipped, repeated or mutated (bad region sizes and offsets,
// overlapping regions, odd ring sizes and addresses, truncated payloads), random messages
// inserted (resets, unknown requests, GET_*), then kicks, so the daemon parses a ring of garbage.
import { writeSync } from 'node:fs';
import { closeAll, eventfd, ftruncate, memfdCreate, socketPair } from '@vfs/daemon/sys';
import { FrontendRequest as R, VirtioFeature as VF, bit, u64Payload } from '@vfs/daemon/vhost-user';
import type { Noise } from './fuse_values';
import type { Rng } from './prng';

export interface RawMessage {
  readonly request: number;
  readonly needReply: boolean;
  readonly payload: Uint8Array;
  readonly fds: readonly number[];
}

/** The fds a sequence hands over (closed by the caller when the sequence ends). */
export interface SequenceResources {
  readonly memfd: number;
  readonly memSize: number;
  readonly kick: number;
  readonly call: number;
  readonly owned: number[];
}

/** Where the pretend front-end "maps" guest RAM; ring addresses are given in this space. */
const USER_BASE = 0x7f00_0000_0000;
const GET_REQUESTS = [
  R.GET_FEATURES,
  R.GET_PROTOCOL_FEATURES,
  R.GET_QUEUE_NUM,
  R.GET_MAX_MEM_SLOTS,
  R.GET_VRING_BASE,
  R.GET_CONFIG,
  R.GET_STATUS,
  R.GET_SHMEM_CONFIG,
  R.GET_INFLIGHT_FD,
];
const RING_SIZES = [0, 1, 2, 3, 8, 64, 128, 256, 1024, 32768, 65535];

export function sequenceResources(rng: Rng, noise: Noise): SequenceResources {
  const memSize = rng.pick([4096, 64 << 10, 1 << 20]);
  const memfd = memfdCreate('vfs-fuzz-ram');
  ftruncate(memfd, memSize);
  writeSync(memfd, noise.take(rng, memSize), 0, memSize, 0);
  return { memfd, memSize, kick: eventfd(), call: eventfd(), owned: [] };
}

export function releaseResources(r: SequenceResources): void {
  closeAll([r.memfd, r.kick, r.call, ...r.owned]);
}

const msg = (request: number, payload: Uint8Array = new Uint8Array(0), fds: readonly number[] = []): RawMessage => ({
  request,
  needReply: false,
  payload,
  fds,
});

type Field = readonly [bytes: 4 | 8, value: number | bigint];

function words(...fields: readonly Field[]): Uint8Array {
  const size = fields.reduce((n, [b]) => n + b, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let at = 0;
  for (const [b, value] of fields) {
    if (b === 4) v.setUint32(at, Number(value) >>> 0, true);
    else v.setBigUint64(at, BigInt.asUintN(64, BigInt(value)), true);
    at += b;
  }
  return out;
}

/** A region: mostly the memfd as it is, sometimes larger than it, past it, or overlapping. */
function region(rng: Rng, r: SequenceResources, i: number): Field[] {
  const roll = rng.float();
  const size = roll < 0.7 ? r.memSize : rng.pick([0, 4096, r.memSize * 2, 1 << 30, 2 ** 62]);
  const guest = rng.chance(0.8) ? i * 2 * r.memSize : rng.pick([0, 4096, rng.u32()]);
  const user = rng.chance(0.85) ? USER_BASE + i * r.memSize : rng.pick([0, USER_BASE, rng.u32()]);
  const offset = rng.chance(0.85) ? 0 : rng.pick([4096, r.memSize, r.memSize - 4096, rng.u32()]);
  return [
    [8, guest],
    [8, size],
    [8, user],
    [8, offset],
  ];
}

function memTable(rng: Rng, r: SequenceResources): RawMessage {
  const n = rng.chance(0.8) ? 1 : rng.below(10);
  const declared = rng.chance(0.9) ? n : rng.below(16);
  const regions = Array.from({ length: n }, (_, i) => region(rng, r, i)).flat();
  const fdCount = rng.chance(0.85) ? n : rng.below(9);
  const fds = Array.from({ length: Math.min(fdCount, 8) }, () => (rng.chance(0.9) ? r.memfd : r.kick));
  return msg(R.SET_MEM_TABLE, words([4, declared], [4, 0], ...regions), fds);
}

function singleRegion(rng: Rng, r: SequenceResources, request: number): RawMessage {
  return msg(request, words([8, 0], ...region(rng, r, rng.below(2))), rng.chance(0.9) ? [r.memfd] : []);
}

function ringIndex(rng: Rng): number {
  return rng.chance(0.85) ? rng.below(2) : rng.pick([2, 3, 255, 256, rng.u32()]);
}

/** Ring addresses inside the region at the usual places, or anywhere. */
function ringAddr(rng: Rng, r: SequenceResources): RawMessage {
  const inside = (off: number): number =>
    rng.chance(0.85) ? USER_BASE + off : rng.pick([0, USER_BASE + off + 1, USER_BASE + r.memSize, rng.u32()]);
  const q = Math.min(r.memSize / 4, 16 << 10);
  return msg(
    R.SET_VRING_ADDR,
    words(
      [4, ringIndex(rng)],
      [4, rng.chance(0.9) ? 0 : rng.u32()],
      [8, inside(0)],
      [8, inside(2 * q)],
      [8, inside(q)],
      [8, 0],
    ),
  );
}

function vringFd(rng: Rng, request: number, fd: number): RawMessage {
  const noFd = rng.chance(0.1);
  const index = ringIndex(rng) | (noFd ? 0x100 : 0);
  return msg(request, u64Payload(rng.chance(0.95) ? index : rng.u32()), noFd && rng.chance(0.7) ? [] : [fd]);
}

/** QEMU's set-up of one ring, step by step. */
function setup(rng: Rng, r: SequenceResources): RawMessage[] {
  const features = bit(VF.VERSION_1) | bit(VF.PROTOCOL_FEATURES) | (rng.chance(0.5) ? bit(VF.RING_EVENT_IDX) : 0n);
  const index = ringIndex(rng);
  return [
    { ...msg(R.GET_FEATURES), needReply: true },
    msg(R.SET_PROTOCOL_FEATURES, u64Payload(rng.chance(0.7) ? 0n : rng.u64())),
    msg(R.SET_OWNER),
    msg(R.SET_FEATURES, u64Payload(rng.chance(0.8) ? features : rng.u64())),
    memTable(rng, r),
    msg(R.SET_VRING_NUM, words([4, index], [4, rng.chance(0.6) ? 256 : rng.pick(RING_SIZES)])),
    msg(R.SET_VRING_BASE, words([4, index], [4, rng.chance(0.8) ? 0 : rng.u32()])),
    ringAddr(rng, r),
    vringFd(rng, R.SET_VRING_KICK, r.kick),
    vringFd(rng, R.SET_VRING_CALL, r.call),
    msg(R.SET_VRING_ENABLE, words([4, index], [4, rng.chance(0.9) ? 1 : rng.u32()])),
  ];
}

/** A message out of place: resets, unknown requests, GET_*, regions, the back-end channel. */
function stray(rng: Rng, r: SequenceResources, noise: Noise): RawMessage {
  switch (rng.below(12)) {
    case 0:
      return msg(R.RESET_DEVICE);
    case 1:
      return msg(R.RESET_OWNER);
    case 2:
      return { ...msg(rng.pick(GET_REQUESTS), words([4, ringIndex(rng)], [4, 0])), needReply: true };
    case 3:
      return singleRegion(rng, r, rng.chance(0.5) ? R.ADD_MEM_REG : R.REM_MEM_REG);
    case 4: {
      const [mine, theirs] = socketPair();
      r.owned.push(mine, theirs);
      return msg(R.SET_BACKEND_REQ_FD, new Uint8Array(0), [theirs]);
    }
    case 5:
      return memTable(rng, r);
    case 6:
      return msg(R.SET_VRING_NUM, words([4, ringIndex(rng)], [4, rng.pick(RING_SIZES)]));
    case 7:
      return ringAddr(rng, r);
    case 8:
      return msg(
        rng.pick([R.SET_LOG_BASE, R.SET_LOG_FD, R.SET_STATUS, R.SET_CONFIG, R.SET_INFLIGHT_FD, R.SET_DEVICE_STATE_FD]),
        noise.take(rng, rng.below(64)),
        rng.chance(0.5) ? [r.memfd] : [],
      );
    case 9:
      return msg(rng.pick([0, 45, 46, 100, 0xffff_ffff, rng.u32()]), noise.take(rng, rng.below(64)));
    case 10:
      return msg(R.SET_VRING_ENABLE, words([4, ringIndex(rng)], [4, rng.below(2)]));
    default:
      return vringFd(
        rng,
        rng.pick([R.SET_VRING_KICK, R.SET_VRING_CALL, R.SET_VRING_ERR]),
        rng.chance(0.5) ? r.kick : r.memfd,
      );
  }
}

/** Truncates or pads a payload, or asks for a reply the request does not give. */
function mangle(rng: Rng, m: RawMessage, noise: Noise): RawMessage {
  const roll = rng.float();
  if (roll < 0.06) return { ...m, payload: m.payload.subarray(0, rng.below(m.payload.length + 1)) };
  if (roll < 0.1) return { ...m, payload: Buffer.concat([m.payload, noise.take(rng, rng.below(64))]) };
  if (roll < 0.13) return { ...m, needReply: !m.needReply };
  return m;
}

/** A whole sequence: the set-up with steps dropped, repeated and mangled, and strays inserted. */
export function hostileSequence(rng: Rng, r: SequenceResources, noise: Noise): RawMessage[] {
  const out: RawMessage[] = [];
  for (const step of setup(rng, r)) {
    if (rng.chance(0.05)) continue;
    out.push(mangle(rng, step, noise));
    if (rng.chance(0.05)) out.push(mangle(rng, step, noise));
    if (rng.chance(0.12)) out.push(mangle(rng, stray(rng, r, noise), noise));
  }
  return out;
}
