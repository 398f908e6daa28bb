// vfs_dirents_encode on a real directory's getdents64 records: every record once, in order, with its
// d_ino, d_off and type; a reply that runs out of room stops before the record that does not fit,
// and so does one that meets a malformed record, which the next call refuses; a range outside the
// buffers is refused before anything is written.
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EINVAL, EIO } from '../fuse/errno';
import { tryClose } from './fd';
import { AT_FDCWD, cPath, getdents64, O_DIRECTORY, O_RDONLY, openat, STATX_SIZE } from './fs';
import { DirentPlusPage, DirentsCursor } from './dirents';

interface Record {
  ino: bigint;
  off: bigint;
  type: number;
  name: string;
}

let dir: string;
let records: Buffer;

/** The directory's getdents64 records, read in one call. */
function readRecords(path: string): Buffer {
  const fd = openat(AT_FDCWD, cPath(path), O_RDONLY | O_DIRECTORY);
  const buf = Buffer.alloc(65536);
  const n = getdents64(fd, buf, buf.length);
  tryClose(fd);
  if (n <= 0) throw new Error(`getdents64: ${n}`);
  return buf.subarray(0, n);
}

function hostRecords(buf: Buffer): Record[] {
  const out: Record[] = [];
  for (let p = 0; p < buf.length; p += buf.readUInt16LE(p + 16)) {
    const end = buf.indexOf(0, p + 19);
    out.push({
      ino: buf.readBigUInt64LE(p),
      off: buf.readBigInt64LE(p + 8),
      type: buf[p + 18]!,
      name: buf.toString('latin1', p + 19, end),
    });
  }
  return out;
}

/** The cursor's d_off, whole. */
function cookie(cursor: DirentsCursor): bigint {
  return BigInt(cursor.offLo) + (BigInt(cursor.offHi) << 32n);
}

/** struct fuse_dirent records in out[off, off + len). */
function fuseRecords(out: Buffer, off: number, len: number): Record[] {
  const recs: Record[] = [];
  for (let p = off; p < off + len; ) {
    const namelen = out.readUInt32LE(p + 16);
    recs.push({
      ino: out.readBigUInt64LE(p),
      off: out.readBigInt64LE(p + 8),
      type: out.readUInt32LE(p + 20),
      name: out.toString('latin1', p + 24, p + 24 + namelen),
    });
    const size = (24 + namelen + 7) & ~7;
    expect(out.subarray(p + 24 + namelen, p + size).every((b) => b === 0)).toBe(true);
    p += size;
  }
  return recs;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfs-dirents-'));
  for (let i = 0; i < 300; i++) writeFileSync(join(dir, `file-${'x'.repeat(i % 40)}-${i}`), '');
  mkdirSync(join(dir, 'sub'));
  records = readRecords(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('encodes every record once, in order, with its inode, cookie and type, names padded with zeros', () => {
  const out = Buffer.alloc(65536, 0xff);
  const cursor = new DirentsCursor();
  const w = cursor.encode(records, 0, records.length, out, 16, out.length - 16);
  const host = hostRecords(records);
  expect(fuseRecords(out, 16, w)).toEqual(host);
  expect(host.map((r) => r.name).sort()).toEqual(['.', '..', ...readdirSync(dir)].sort());
  expect(cursor.pos).toBe(records.length);
  const last = host[host.length - 1]!;
  expect(cookie(cursor)).toBe(BigInt.asUintN(64, last.off));
  expect(out[15]).toBe(0xff);
  expect(out[16 + w]).toBe(0xff);
});

test('a reply short of room stops before the first record that does not fit, and the next resumes there', () => {
  const cursor = new DirentsCursor();
  const host = hostRecords(records);
  const seen: Record[] = [];
  let pos = 0;
  while (pos < records.length) {
    const out = Buffer.alloc(512);
    const w = cursor.encode(records, pos, records.length, out, 0, 200);
    expect(w).toBeGreaterThan(0);
    expect(w).toBeLessThanOrEqual(200);
    seen.push(...fuseRecords(out, 0, w));
    expect(cursor.pos).toBeGreaterThan(pos);
    // The cookie is the last record sent's, where the guest resumes.
    expect(cookie(cursor)).toBe(BigInt.asUintN(64, seen[seen.length - 1]!.off));
    pos = cursor.pos;
  }
  expect(seen).toEqual(host);
  // Room for no record: nothing written.
  const none = Buffer.alloc(64, 0xee);
  expect(cursor.encode(records, 0, records.length, none, 0, 24)).toBe(0);
  expect(none.every((b) => b === 0xee)).toBe(true);
});

/** A copy of the first record alone, its name replaced by `name` bytes (NUL-terminated unless said). */
function oneRecord(name: Buffer, terminated = true): Buffer {
  const reclen = (19 + name.length + (terminated ? 1 : 0) + 7) & ~7;
  const rec = Buffer.alloc(reclen);
  records.copy(rec, 0, 0, 19);
  rec.writeUInt16LE(reclen, 16);
  name.copy(rec, 19);
  return rec;
}

test('a malformed record ends the reply before it, and alone is refused with EIO, nothing written', () => {
  const cursor = new DirentsCursor();
  const firstLen = records.readUInt16LE(16);
  const secondLen = records.readUInt16LE(firstLen + 16);
  const out = Buffer.alloc(8192, 0xee);
  const refused = (src: Buffer, pos = 0, len = src.length): number => {
    out.fill(0xee);
    const r = cursor.encode(src, pos, len, out, 0, out.length);
    if (r < 0) expect(out.every((b) => b === 0xee)).toBe(true);
    return r;
  };
  // The second record runs past the bytes given (its header is all there, its last byte is not): the first goes out ...
  const firstSize = cursor.encode(records, 0, firstLen + secondLen - 1, out, 0, out.length);
  expect(fuseRecords(out, 0, firstSize)).toEqual(hostRecords(records).slice(0, 1));
  expect(cursor.pos).toBe(firstLen);
  // ... and the next call, at the second, is refused.
  expect(refused(records, firstLen, firstLen + secondLen - 1)).toBe(-EIO);
  // A header cut short, and a length that claims more than is there.
  expect(refused(records, firstLen, firstLen + 10)).toBe(-EIO);
  const long = Buffer.from(records.subarray(firstLen, firstLen + secondLen));
  long.writeUInt16LE(secondLen + 8, 16);
  expect(refused(long)).toBe(-EIO);
  // A name without its NUL inside the record, an empty name, a length of 0 (the name intact).
  expect(refused(oneRecord(Buffer.from('x'.repeat(13)), false))).toBe(-EIO);
  expect(refused(oneRecord(Buffer.alloc(0)))).toBe(-EIO);
  const zero = oneRecord(Buffer.from('name'));
  zero.writeUInt16LE(0, 16);
  expect(refused(zero)).toBe(-EIO);
  // Names up to FUSE's 1024 bytes go out (a host file system may have them); longer, never.
  const kib = cursor.encode(oneRecord(Buffer.from('n'.repeat(1024))), 0, 1048, out, 0, out.length);
  expect(fuseRecords(out, 0, kib)[0]!.name).toBe('n'.repeat(1024));
  const tooLong = oneRecord(Buffer.from('n'.repeat(1025)));
  expect(refused(tooLong)).toBe(-EIO);
});

test('ranges outside either buffer are refused before anything is read or written', () => {
  const cursor = new DirentsCursor();
  const out = Buffer.alloc(256, 0xee);
  expect(cursor.encode(records, 0, records.length + 1, out, 0, 256)).toBe(-EINVAL);
  expect(cursor.encode(records, records.length + 8, records.length, out, 0, 256)).toBe(-EINVAL);
  expect(cursor.encode(records, 0, records.length, out, 200, 100)).toBe(-EINVAL);
  expect(cursor.encode(records, 0, records.length, out, 300, 0)).toBe(-EINVAL);
  expect(out.every((b) => b === 0xee)).toBe(true);
});

test('a READDIRPLUS page encodes "." and ".." with zeroed entries and refuses slots, records and room it was not given', () => {
  const page = new DirentPlusPage(4);
  const stx = Buffer.alloc(2 * STATX_SIZE);
  const out = Buffer.alloc(1024, 0xee);
  const firstLen = records.readUInt16LE(16);
  // "." and ".." (the first two records of any directory): 128 zero bytes, then the dirent.
  page.addEmpty(0);
  page.addEmpty(firstLen);
  const w = page.encode(records, records.length, stx, 2, 1, out, 8, 512);
  expect(w).toBe(2 * 160);
  expect(out.subarray(8, 8 + 128).every((b) => b === 0)).toBe(true);
  expect(fuseRecords(out, 8 + 128, 24)).toEqual(hostRecords(records).slice(0, 1));
  expect(out[7]).toBe(0xee);
  expect(out[8 + w]).toBe(0xee);
  expect(page.count).toBe(0);
  // A statx slot past those given, a record position past the records, room for less than a record.
  page.add(0, 2, 5, 0, 0, 0);
  expect(page.encode(records, records.length, stx, 2, 1, out, 0, 512)).toBe(-EINVAL);
  page.add(records.length, 0, 5, 0, 0, 0);
  expect(page.encode(records, records.length, stx, 2, 1, out, 0, 512)).toBe(-EIO);
  page.add(0, 0, 5, 0, 0, 0);
  expect(page.encode(records, records.length, stx, 2, 1, out, 0, 100)).toBe(-EIO);
  page.add(0, 0, 5, 0, 0, 0);
  expect(page.encode(records, records.length, stx, 2, 1, out, 1000, 100)).toBe(-EINVAL);
});
