// The values FUSE requests are built from: names, sizes, offsets, flags, modes, credentials,
// xattr names. Mostly what a guest sends, with the edges a hostile guest would try.
import type { Rng } from './prng';

const COMMON_NAMES = ['a', 'b', 'c', 'd', 'f0', 'f1', 'f2', 'd1', 'sub', 'file', 'x', 'escape', 'abs', 'fifo'];
const ODD_NAMES = ['.', '..', '', 'a/b', '../x', '/abs', 'a\0b', '\xff\xfe', ' ', '*'];

/** A name as FUSE carries it: bytes, NUL-terminated unless `unterminated`. */
export function nameBytes(rng: Rng, unterminated = false): Buffer {
  const r = rng.float();
  let name: string;
  if (r < 0.85) name = rng.pick(COMMON_NAMES);
  else if (r < 0.95) name = rng.pick(ODD_NAMES);
  else name = 'n'.repeat(rng.pick([254, 255, 256, 1024, 4000]));
  const bytes = Buffer.from(name, 'latin1');
  return unterminated ? bytes : Buffer.concat([bytes, Buffer.alloc(1)]);
}

const SIZES = [0, 1, 7, 8, 16, 100, 4095, 4096, 4097, 65536, 131072, 1 << 20, 2 ** 31, 2 ** 32 - 1];

/** A byte count for size fields (u32). */
export function size32(rng: Rng): number {
  return rng.chance(0.6) ? rng.below(70_000) : rng.pick(SIZES);
}

const OFFSETS: readonly bigint[] = [
  0n,
  1n,
  4095n,
  4096n,
  1n << 32n,
  1n << 40n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 64n) - 1n,
];

/** A file offset or length (u64). */
export function offset64(rng: Rng): bigint {
  return rng.chance(0.7) ? BigInt(rng.below(200_000)) : rng.pick(OFFSETS);
}

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const OPEN_BITS = [
  0o100 /* O_CREAT */, 0o200 /* O_EXCL */, 0o1000 /* O_TRUNC */, 0o2000 /* O_APPEND */, 0o4000 /* O_NONBLOCK */,
  0o40000 /* O_DIRECT */, 0o200000 /* O_DIRECTORY */, 0o400000 /* O_NOFOLLOW */, 0o1000000 /* O_NOATIME */,
  0o2000000 /* O_CLOEXEC */, 0o10000000 /* O_PATH */, 0o20200000 /* O_TMPFILE */, 0o4010000 /* O_SYNC */,
];

/** open(2) flags: an access mode plus a few bits, or any 32 bits. */
export function openFlags(rng: Rng): number {
  if (rng.chance(0.05)) return rng.u32();
  let flags = rng.pick([O_RDONLY, O_WRONLY, O_RDWR, O_RDWR, 3]);
  for (let n = rng.below(3); n > 0; n--) flags |= rng.pick(OPEN_BITS);
  return flags >>> 0;
}

const FILE_TYPES = [0o100000, 0o040000, 0o120000, 0o010000, 0o140000, 0o020000, 0o060000, 0];

/** A mode: permission bits (with setuid/setgid/sticky at times), sometimes a file type. */
export function mode(rng: Rng, withType = false): number {
  if (rng.chance(0.03)) return rng.u32();
  const perms = rng.chance(0.7) ? rng.pick([0o644, 0o755, 0o600, 0o777, 0o000]) : rng.below(0o10000);
  return ((withType ? rng.pick(FILE_TYPES) : 0) | perms) >>> 0;
}

/** The caller's uid or gid: mostly root, often an unprivileged id, rarely any. */
export function credential(rng: Rng): number {
  const r = rng.float();
  if (r < 0.7) return 0;
  if (r < 0.95) return rng.pick([1000, 65534]);
  return rng.u32();
}

const XATTR_NAMES = [
  'user.a',
  'user.b',
  'trusted.x',
  'security.capability',
  'security.selinux',
  'system.posix_acl_access',
  'system.posix_acl_default',
  'user.',
  '',
  'nonamespace',
  `user.${'x'.repeat(300)}`,
];

export function xattrName(rng: Rng): Buffer {
  return Buffer.from(`${rng.pick(XATTR_NAMES)}\0`, 'latin1');
}

/** A lock owner: a few recurring ones (they conflict with each other), sometimes a new one. */
export function lockOwner(rng: Rng): bigint {
  return rng.chance(0.9) ? BigInt(1 + rng.below(6)) : rng.u64();
}

/** A random block of bytes shared by every case (WRITE data, xattr values, garbage). */
export class Noise {
  private readonly bytes: Buffer;

  constructor(rng: Rng, size = 1 << 20) {
    this.bytes = Buffer.from(rng.fill(new Uint8Array(size)));
  }

  /** `len` noise bytes (at most the block's size) from a random place. */
  take(rng: Rng, len: number): Buffer {
    const n = Math.min(len, this.bytes.length);
    const at = rng.below(this.bytes.length - n + 1);
    return this.bytes.subarray(at, at + n);
  }
}
