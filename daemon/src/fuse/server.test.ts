// The FUSE boundary: INIT negotiation and the answers to malformed or unexpected requests.
import * as abi from './abi';
import { EBADF, EINVAL, EIO, ENAMETOOLONG, ENOSYS, EPROTO } from './errno';
import { errnoOf, type FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness, type Harness } from '../../test_support/passthrough_harness';
import { ARGS_MAX } from './request';

let h: Harness;
let c: FuseClient;

beforeEach(() => {
  h = startHarness();
  c = h.client;
});
afterEach(() => h.cleanup());

describe('INIT', () => {
  test('negotiates 7.31+ with 1 MiB writes and the flags both sides support', () => {
    const r = c.init();
    expect(r.major).toBe(7);
    expect(r.minor).toBe(abi.FUSE_KERNEL_MINOR_VERSION);
    expect(r.maxWrite).toBe(1 << 20);
    expect(r.maxPages).toBe(256);
    expect(r.flags & abi.InitFlag.MAX_PAGES).toBeTruthy();
    expect(r.flags & abi.InitFlag.POSIX_LOCKS).toBeTruthy();
    expect(r.flags & abi.InitFlag.FLOCK_LOCKS).toBeTruthy();
    expect(r.flags & abi.InitFlag.DO_READDIRPLUS).toBeTruthy();
    expect(r.flags & abi.InitFlag.WRITEBACK_CACHE).toBe(0);
    expect(r.flags & abi.InitFlag.SUBMOUNTS).toBe(0);
    expect(r.flags & abi.InitFlag.EXPORT_SUPPORT).toBe(0);
    expect(r.flags & abi.InitFlag.DONT_MASK).toBe(0);
  });

  test('lets the guest map direct-I/O files shared only when told to (--allow-mmap)', () => {
    const offered = abi.InitFlag2.DIRECT_IO_ALLOW_MMAP;
    expect(c.init(undefined, undefined, offered).flags2 & offered).toBe(0);
    const allowing = startHarness({ allowMmap: true, cache: 'none' });
    try {
      expect(allowing.client.init(undefined, undefined, offered).flags2 & offered).toBe(offered);
      expect(allowing.client.init(undefined, undefined, 0).flags2 & offered).toBe(0);
    } finally {
      allowing.cleanup();
    }
  });

  test('leaves clearing set-id bits to the guest with --no-killpriv-v2', () => {
    const v2 = abi.InitFlag.HANDLE_KILLPRIV_V2;
    expect(c.init().flags & v2).toBe(v2);
    const guestClears = startHarness({ killprivV2: false });
    try {
      expect(guestClears.client.init().flags & v2).toBe(0);
    } finally {
      guestClears.cleanup();
    }
  });

  test('never announces what the kernel did not offer', () => {
    const r = c.init(abi.InitFlag.ASYNC_READ);
    expect(r.flags).toBe(abi.InitFlag.ASYNC_READ);
  });

  test('uses the older minor of an older kernel and refuses anything before 7.31', () => {
    expect(c.init(undefined, 33).minor).toBe(33);
    expect(errnoOf(() => c.init(undefined, 30))).toBe(EPROTO);
  });

  test('requests before INIT get EIO', () => {
    expect(errnoOf(() => c.lookup(1, 'x'))).toBe(EIO);
    expect(errnoOf(() => c.getattr(1))).toBe(EIO);
  });

  test('DESTROY ends the session', () => {
    c.init();
    c.getattr(1);
    c.destroy();
    expect(errnoOf(() => c.getattr(1))).toBe(EIO);
    c.init();
    c.getattr(1);
  });
});

describe('malformed requests', () => {
  beforeEach(() => c.init());

  test('unknown opcodes get ENOSYS', () => {
    for (const op of [
      7,
      19,
      abi.Opcode.BMAP,
      abi.Opcode.IOCTL,
      abi.Opcode.POLL,
      abi.Opcode.SETUPMAPPING,
      abi.Opcode.TMPFILE,
      abi.Opcode.STATX,
      999,
      0xffffffff,
    ]) {
      expect(errnoOf(() => c.request(op, 1, [Buffer.alloc(64)], 4096))).toBe(ENOSYS);
    }
  });

  test('a header shorter than fuse_in_header gets EINVAL', () => {
    const r = c.send([Buffer.alloc(20)], 64);
    expect(r.error).toBe(EINVAL);
  });

  test('a length beyond the readable bytes, or below the header size, gets EINVAL', () => {
    const long = c.header(abi.Opcode.GETATTR, 1, 1000);
    expect(c.send([long, Buffer.alloc(16)], 4096).error).toBe(EINVAL);
    const short = c.header(abi.Opcode.GETATTR, 1, 0);
    short.writeUInt32LE(8, abi.InHeader.len);
    expect(c.send([short], 4096).error).toBe(EINVAL);
  });

  test('truncated argument blocks get EINVAL', () => {
    for (const op of [
      abi.Opcode.GETATTR,
      abi.Opcode.SETATTR,
      abi.Opcode.OPEN,
      abi.Opcode.READ,
      abi.Opcode.WRITE,
      abi.Opcode.MKNOD,
      abi.Opcode.MKDIR,
      abi.Opcode.LINK,
      abi.Opcode.RENAME2,
      abi.Opcode.GETLK,
      abi.Opcode.INIT,
    ]) {
      expect(errnoOf(() => c.request(op, 1, [Buffer.alloc(4)], 4096))).toBe(EINVAL);
    }
  });

  test('a reply that does not fit the writable space is answered with EINVAL', () => {
    const r = c.send([c.header(abi.Opcode.GETATTR, 1, 16), Buffer.alloc(16)], 32);
    expect(r.error).toBe(EINVAL);
  });

  test('no writable space: no reply, no crash', () => {
    expect(() => c.send([c.header(abi.Opcode.GETATTR, 1, 16), Buffer.alloc(16)], 0)).not.toThrow();
    c.getattr(1);
  });

  test('unknown node ids and file handles get EBADF', () => {
    expect(errnoOf(() => c.getattr(12345))).toBe(EBADF);
    expect(errnoOf(() => c.request(abi.Opcode.GETATTR, 2n ** 40n, [Buffer.alloc(16)], 4096))).toBe(EBADF);
    expect(errnoOf(() => c.lookup(999, 'a'))).toBe(EBADF);
    expect(errnoOf(() => c.read(1, 77, 0, 10))).toBe(EBADF);
    expect(errnoOf(() => c.write(1, 77, 0, Buffer.from('x')))).toBe(EBADF);
    expect(errnoOf(() => c.release(1, 77))).toBe(EBADF);
    expect(errnoOf(() => c.readdir(1, 77))).toBe(EBADF);
    expect(errnoOf(() => c.flush(1, 2 ** 40))).toBe(EBADF);
  });

  test('names that are not a single component get EINVAL, overlong ones ENAMETOOLONG', () => {
    for (const name of ['..', '.', 'a/b', '/etc', 'etc/', '../..', '']) {
      expect(errnoOf(() => c.lookup(1, name))).toBe(EINVAL);
      expect(errnoOf(() => c.mkdir(1, name, 0o755))).toBe(EINVAL);
    }
    expect(errnoOf(() => c.lookup(1, 'x'.repeat(256)))).toBe(ENAMETOOLONG);
    const unterminated = Buffer.from('abc');
    expect(errnoOf(() => c.request(abi.Opcode.LOOKUP, 1, [unterminated], 4096))).toBe(EINVAL);
  });

  test('an unterminated name up to the argument copy limit, its last 8 bytes included, gets EINVAL', () => {
    for (const len of [ARGS_MAX - 9, ARGS_MAX - 8, ARGS_MAX - 4, ARGS_MAX - 1, ARGS_MAX, ARGS_MAX + 1]) {
      const name = Buffer.alloc(len, 0x61);
      expect([len, errnoOf(() => c.request(abi.Opcode.LOOKUP, 1, [name], 4096))]).toEqual([len, EINVAL]);
    }
    c.getattr(1);
  });

  test('offsets and sizes above 2^63 get EINVAL', () => {
    const f = c.create(1, 'f', 0o2, 0o644);
    const readIn = Buffer.alloc(abi.READ_IN_SIZE);
    readIn.writeBigUInt64LE(BigInt(f.fh), abi.ReadIn.fh);
    readIn.writeBigUInt64LE(2n ** 63n + 5n, abi.ReadIn.offset);
    readIn.writeUInt32LE(10, abi.ReadIn.size);
    expect(errnoOf(() => c.request(abi.Opcode.READ, f.entry.nodeid, [readIn], 4096))).toBe(EINVAL);
    expect(errnoOf(() => c.setattr(f.entry.nodeid, { size: 2 ** 63 + 4096 }))).toBe(EINVAL);
    expect(errnoOf(() => c.fallocate(f.entry.nodeid, f.fh, 2 ** 63 + 4096, 10))).toBe(EINVAL);
  });

  test('a WRITE claiming more data than it carries gets EINVAL', () => {
    const f = c.create(1, 'f', 0o2, 0o644);
    const a = Buffer.alloc(abi.WRITE_IN_SIZE);
    a.writeBigUInt64LE(BigInt(f.fh), abi.WriteIn.fh);
    a.writeUInt32LE(100, abi.WriteIn.size);
    expect(errnoOf(() => c.request(abi.Opcode.WRITE, f.entry.nodeid, [a, Buffer.alloc(10)], 4096))).toBe(EINVAL);
  });

  test('random garbage never crashes the server', () => {
    let seed = 42;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 2000; i++) {
      const len = rand() % 200;
      const body = Buffer.alloc(len);
      for (let j = 0; j < len; j++) body[j] = rand() & 0xff;
      const hdr = c.header(rand() % 60, rand() % 4, len);
      if (rand() % 4 === 0) hdr.writeUInt32LE(rand(), 0);
      const r = c.send([hdr, body], 4096);
      expect(r.error).toBeGreaterThanOrEqual(0);
    }
    c.getattr(1);
  });
});
