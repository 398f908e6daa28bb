// vfs_lookup_batch on a real directory: each name opened O_PATH and statted, or only statted; a
// per-name errno for a name gone since it was listed, a too-long one and a path; no fd leaked.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENAMETOOLONG, ENOENT, EINVAL } from '../fuse/errno';
import { tryClose } from './fd';
import { FILE_HANDLE_HEADER } from './file_handle';
import {
  AT_EMPTY_PATH,
  cPath,
  EMPTY_PATH,
  O_DIRECTORY,
  O_PATH,
  openat,
  AT_FDCWD,
  STX,
  STATX_BASIC_STATS,
  STATX_MNT_ID,
  statx,
  STATX_SIZE,
} from './fs';
import { LB_HANDLES, LB_OPEN, LOOKUP_BATCH_MAX, LookupBatch } from './lookup_batch';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const MASK = STATX_BASIC_STATS | STATX_MNT_ID;

let dir: string;
let dirFd: number;
let batch: LookupBatch;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfs-lookup-batch-'));
  writeFileSync(join(dir, 'file'), 'x');
  mkdirSync(join(dir, 'sub'));
  symlinkSync('/etc/passwd', join(dir, 'link'));
  dirFd = openat(AT_FDCWD, cPath(dir), O_PATH | O_DIRECTORY);
  expect(dirFd).toBeGreaterThanOrEqual(0);
  batch = new LookupBatch();
});
afterEach(() => {
  batch.discard();
  tryClose(dirFd);
  rmSync(dir, { recursive: true, force: true });
});

const queue = (...names: string[]): void => {
  batch.clear();
  for (const n of names) expect(batch.add(Buffer.from(n), 0, Buffer.byteLength(n))).toBe(true);
};
const typeOf = (i: number): number => batch.stat[i]!.getUint16(STX.mode, true) & S_IFMT;
const fdCount = (): number => readdirSync('/proc/self/fd').length;

/** The mount id of `dir`, for the handle mount. */
function mountIdOfDir(): number {
  const buf = Buffer.alloc(STATX_SIZE);
  expect(statx(dirFd, EMPTY_PATH, AT_EMPTY_PATH, MASK, buf)).toBe(0);
  return buf.readUInt32LE(STX.mntId);
}

test('opening a batch gives each name an O_PATH fd of itself, symlinks not followed', () => {
  queue('file', 'sub', 'link');
  expect(batch.run(dirFd, LB_OPEN, MASK, 0)).toBe(0);
  expect([typeOf(0), typeOf(1), typeOf(2)]).toEqual([S_IFREG, S_IFDIR, S_IFLNK]);
  for (let i = 0; i < 3; i++) expect(batch.result[i]).toBeGreaterThanOrEqual(0);
  expect(batch.stat[0]!.getUint32(STX.size, true)).toBe(1);
  // The fd is the inode itself: statting it gives the same inode number.
  const buf = Buffer.alloc(STATX_SIZE);
  expect(statx(batch.result[0]!, EMPTY_PATH, AT_EMPTY_PATH, MASK, buf)).toBe(0);
  expect(buf.readUInt32LE(STX.ino)).toBe(batch.stat[0]!.getUint32(STX.ino, true));
});

test('a stat-only batch opens no fd', () => {
  const before = fdCount();
  queue('file', 'sub');
  expect(batch.run(dirFd, 0, MASK, 0)).toBe(0);
  expect([batch.result[0], batch.result[1]]).toEqual([0, 0]);
  expect(typeOf(1)).toBe(S_IFDIR);
  expect(fdCount()).toBe(before);
});

test('a name removed after it was listed gets ENOENT and the others still resolve', () => {
  writeFileSync(join(dir, 'gone'), '');
  queue('file', 'gone', 'sub');
  rmSync(join(dir, 'gone'));
  expect(batch.run(dirFd, LB_OPEN, MASK, 0)).toBe(0);
  expect(batch.result[1]).toBe(-ENOENT);
  expect(batch.result[0]).toBeGreaterThanOrEqual(0);
  expect(batch.result[2]).toBeGreaterThanOrEqual(0);
});

test('a name longer than NAME_MAX, a path and ".." are refused without a system call', () => {
  queue('x'.repeat(300), 'sub/../file', '..', 'file');
  expect(batch.run(dirFd, LB_OPEN, MASK, 0)).toBe(0);
  expect(batch.result[0]).toBe(-ENAMETOOLONG);
  expect(batch.result[1]).toBe(-EINVAL);
  expect(batch.result[2]).toBe(-EINVAL);
  expect(batch.result[3]).toBeGreaterThanOrEqual(0);
});

test('file handles are made only on the given mount', () => {
  queue('file', 'sub');
  expect(batch.run(dirFd, LB_OPEN | LB_HANDLES, MASK, mountIdOfDir())).toBe(0);
  // A file system without handles (tmpfs has them) would answer -EOPNOTSUPP: either way not 0.
  expect(batch.handleLen[0]).not.toBe(0);
  if (batch.handleLen[0]! > 0) expect(batch.handleLen[0]).toBe(FILE_HANDLE_HEADER + batch.handle[0]!.readUInt32LE(0));
  batch.discard();
  queue('file');
  expect(batch.run(dirFd, LB_OPEN | LB_HANDLES, MASK, mountIdOfDir() + 1)).toBe(0);
  expect(batch.handleLen[0]).toBe(0);
});

test('discard closes the fds of the results not taken', () => {
  const before = fdCount();
  queue('file', 'sub', 'link');
  expect(batch.run(dirFd, LB_OPEN, MASK, 0)).toBe(0);
  expect(fdCount()).toBe(before + 3);
  tryClose(batch.result[batch.take()]!);
  batch.discard();
  expect(fdCount()).toBe(before);
});

test('the queue takes at most LOOKUP_BATCH_MAX names', () => {
  batch.clear();
  for (let i = 0; i < LOOKUP_BATCH_MAX; i++) expect(batch.add(Buffer.from('file'), 0, 4)).toBe(true);
  expect(batch.add(Buffer.from('file'), 0, 4)).toBe(false);
  expect(batch.run(dirFd, 0, MASK, 0)).toBe(0);
  expect(batch.result[LOOKUP_BATCH_MAX - 1]).toBe(0);
});
