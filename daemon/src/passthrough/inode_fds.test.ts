// The inode table's handle inodes and the fd cache they open through, without a daemon: which
// known inode a key and a handle match, and which fds the cache keeps.
import { AT_FDCWD, cPath, O_CLOEXEC, O_PATH, openat, STATX_BTIME, STATX_SIZE, STX } from '../sys/fs';
import { InodeFdCache } from './inode_fds';
import { bornAs, InodeTable, type Inode } from './inode_table';

const S_IFREG = 0o100000;

function statxOf(ino: number): DataView {
  const v = new DataView(new ArrayBuffer(STATX_SIZE));
  v.setUint16(STX.mode, S_IFREG | 0o644, true);
  v.setUint32(STX.ino, ino, true);
  v.setUint32(STX.devMajor, 8, true);
  v.setUint32(STX.mntId, 26, true);
  return v;
}

/** struct file_handle: 8 bytes of f_handle after handle_bytes and handle_type. */
function handleOf(generation: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(8, 0);
  b.writeInt32LE(1, 4);
  b.writeUInt32LE(1234, 8);
  b.writeUInt32LE(generation, 12);
  return b;
}

/** A real O_PATH fd for the table to own: it closes them (evicted, forgotten, cleared). */
const openDevNull = (): number => openat(AT_FDCWD, cPath('/dev/null'), O_PATH | O_CLOEXEC);

test('a handle inode matches its key only together with its handle: a freed, reused number is another file', () => {
  const table = new InodeTable(new InodeFdCache(() => -1));
  const stx = statxOf(5);
  const first = table.add(openDevNull(), stx, undefined, false, handleOf(1));
  const scratch = Buffer.alloc(136);
  handleOf(2).copy(scratch);
  expect(table.find(stx, scratch, 16)).toBeUndefined();
  const second = table.add(openDevNull(), stx, undefined, false, handleOf(2));
  expect(table.find(stx, scratch, 16)).toBe(second);
  handleOf(1).copy(scratch);
  expect(table.find(stx, scratch, 16)).toBe(first);
  table.clear();
});

test('a key match born at another time is a later inode; without birth times only the handle tells', () => {
  const table = new InodeTable(new InodeFdCache(() => -1));
  const stx = statxOf(7);
  stx.setUint32(STX.mask, STATX_BTIME, true);
  stx.setUint32(STX.btime, 1_700_000_000, true);
  stx.setUint32(STX.btime + 8, 5, true);
  const inode = table.add(openDevNull(), stx, undefined, false, handleOf(1));
  expect(bornAs(inode, stx)).toBe(true);
  stx.setUint32(STX.btime + 8, 6, true);
  expect(bornAs(inode, stx)).toBe(false);
  stx.setUint32(STX.mask, 0, true);
  expect(bornAs(inode, stx)).toBeUndefined();
  table.clear();
});

test('the fd cache keeps its capacity of fds open and closes the least recently used', () => {
  let opens = 0;
  const cache = new InodeFdCache(() => {
    opens++;
    return openDevNull();
  }, 2);
  const table = new InodeTable(cache);
  const [a, b, c] = [1, 2, 3].map((ino) => table.add(openDevNull(), statxOf(ino), undefined, false, handleOf(ino))) as [
    Inode,
    Inode,
    Inode,
  ];
  // Each lookup's own fd was kept: the third pushed the first out.
  expect(cache.size).toBe(2);
  expect(a.pathFd).toBe(-1);
  const bFd = b.fd;
  expect(b.fd).toBe(bFd);
  expect(opens).toBe(0);
  expect(a.fd).toBeGreaterThanOrEqual(0);
  expect(opens).toBe(1);
  // b was used after c: c is the one closed.
  expect(c.pathFd).toBe(-1);
  expect(b.pathFd).toBe(bFd);
  table.forget(b, 1);
  expect(cache.size).toBe(1);
  table.clear();
  expect(cache.size).toBe(0);
});

test("an inode whose handle no longer opens gets the open's -errno as its fd (ESTALE), cached as no fd", () => {
  const ESTALE = 116;
  const table = new InodeTable(new InodeFdCache(() => -ESTALE, 1));
  const [a] = [1, 2].map((ino) => table.add(openDevNull(), statxOf(ino), undefined, false, handleOf(ino))) as [Inode];
  expect(a.fd).toBe(-ESTALE);
  expect(a.pathFd).toBe(-1);
  expect(a.procName.toString()).toBe('-1\0');
  table.clear();
});
