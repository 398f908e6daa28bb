// A template's guest RAM as sparse files. Once saved, its pages that hold only zeros become holes
// (≈ 4 of the ≈ 49 MiB a template's guest touched: the kernel's .bss padding, pages it zeroed and
// never used): a hole reads as zeros, so the RAM is the same, and neither the template nor any copy
// holds them until a guest touches them again. Each sandbox then copies the RAM into a new memfd,
// holes kept: a plain copy would write (so allocate) all 512 MiB. A memfd, not a file on the
// template's tmpfs: a guest's RAM must not count against that mount's size limit, whose
// exhaustion would kill whichever VM faults next. Node has no SEEK_DATA/SEEK_HOLE, memfd_create,
// sendfile or fallocate, so they come from libc; sendfile moves the data in the kernel
// (copy_file_range refuses to cross from a tmpfs mount to the memfd's).
import { closeSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { errnoName, libc } from '../libc';

const SEEK_SET = 0;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;
const MFD_CLOEXEC = 1;
const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;
const PAGE = 4096;
const ZERO_PAGE = Buffer.alloc(PAGE);
/** How much of an extent is read at once to look for zero pages. */
const SCAN_BYTES = 1024 * 1024;

interface RamCalls {
  lseek(fd: number, offset: number, whence: number): number;
  sendfile(outFd: number, inFd: number, offset: [number], count: number): number;
  memfdCreate(name: string, flags: number): number;
  fallocate(fd: number, mode: number, offset: number, len: number): number;
}

let calls: RamCalls | undefined;

function ramCalls(): RamCalls {
  if (calls !== undefined) return calls;
  const { lib } = libc();
  calls = {
    lseek: lib.func('int64_t lseek(int fd, int64_t offset, int whence)'),
    sendfile: lib.func('int64_t sendfile(int out_fd, int in_fd, _Inout_ int64_t *offset, size_t count)'),
    memfdCreate: lib.func('int memfd_create(const char *name, unsigned int flags)'),
    fallocate: lib.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)'),
  };
  return calls;
}

function failed(call: string, what: string, result: number): Error {
  return new Error(`${call}(${what}): ${errnoName(-libc().orErrno(result))}`);
}

/** The next data extent at or after `from`, as [start, end); undefined past the last one. */
function nextExtent(fd: number, from: number, size: number, path: string): [number, number] | undefined {
  const { lseek } = ramCalls();
  const start = lseek(fd, from, SEEK_DATA);
  if (start < 0) {
    if (-libc().orErrno(start) === ENXIO) return undefined;
    throw failed('lseek SEEK_DATA', path, start);
  }
  const end = lseek(fd, start, SEEK_HOLE);
  if (end < 0) throw failed('lseek SEEK_HOLE', path, end);
  return [start, Math.min(end, size)];
}

/** Calls `each` with every data extent [start, end) of `fd` (of `size` bytes), in order. */
function forEachExtent(fd: number, size: number, path: string, each: (start: number, end: number) => void): void {
  for (let extent = nextExtent(fd, 0, size, path); extent !== undefined; ) {
    const [start, end] = extent;
    each(start, end);
    extent = end < size ? nextExtent(fd, end, size, path) : undefined;
  }
}

function copyRange(input: number, output: number, start: number, end: number, source: string): void {
  const { lseek, sendfile } = ramCalls();
  const at = lseek(output, start, SEEK_SET);
  if (at !== start) throw failed('lseek', 'memfd', at);
  const offset: [number] = [start];
  while (offset[0] < end) {
    const sent = sendfile(output, input, offset, end - offset[0]);
    if (sent < 0) throw failed('sendfile', source, sent);
    if (sent === 0) throw new Error(`sendfile(${source}): short copy at offset ${offset[0]} (the file shrank)`);
  }
}

function punchHole(fd: number, start: number, end: number, path: string): void {
  const result = ramCalls().fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, start, end - start);
  if (result < 0) throw failed('fallocate PUNCH_HOLE', path, result);
}

function readAt(fd: number, buf: Buffer, length: number, offset: number, path: string): number {
  let read: number;
  try {
    read = readSync(fd, buf, 0, length, offset);
  } catch (err) {
    throw new Error(`read(${path}) at ${offset}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err,
    });
  }
  if (read === 0) throw new Error(`read(${path}): end of file at ${offset} (the file shrank)`);
  return read;
}

/** Turns the zero pages of the extent [start, end) into holes, page by page on the 4 KiB grid. */
function punchExtent(fd: number, start: number, end: number, path: string, buf: Buffer): void {
  let zeroFrom = -1;
  const closeRun = (at: number): void => {
    if (zeroFrom >= 0) punchHole(fd, zeroFrom, at, path);
    zeroFrom = -1;
  };
  for (let offset = start; offset < end; ) {
    const read = readAt(fd, buf, Math.min(SCAN_BYTES, end - offset), offset, path);
    // A short read that ends inside a page is scanned up to that page; the next read starts there.
    const scanned = offset + read >= end || read < PAGE ? read : read - (read % PAGE);
    for (let page = 0; page < scanned; page += PAGE) {
      const length = Math.min(PAGE, scanned - page);
      const zero = buf.compare(ZERO_PAGE, 0, length, page, page + length) === 0;
      if (zero && zeroFrom < 0) zeroFrom = offset + page;
      else if (!zero) closeRun(offset + page);
    }
    offset += scanned;
  }
  closeRun(end);
}

/**
 * Makes holes of `path`'s pages that hold only zeros (its content stays the same); returns the bytes
 * the file holds less. On a tmpfs with huge pages a hole inside one may only be zeroed: then less.
 */
export function punchZeroPages(path: string): number {
  const fd = openSync(path, 'r+');
  try {
    const { size, blocks } = fstatSync(fd);
    const buf = Buffer.allocUnsafe(SCAN_BYTES);
    forEachExtent(fd, size, path, (start, end) => punchExtent(fd, start, end, path, buf));
    return (blocks - fstatSync(fd).blocks) * 512;
  } finally {
    closeSync(fd);
  }
}

export interface RamCopy {
  /** The memfd (close-on-exec); the caller closes it. */
  readonly fd: number;
  readonly size: number;
  readonly dataBytes: number;
}

/** A new memfd named `name` with `source`'s size and data, with holes where it has them. */
export function copyIntoMemfd(source: string, name: string): RamCopy {
  const input = openSync(source, 'r');
  try {
    const output = ramCalls().memfdCreate(name, MFD_CLOEXEC);
    if (output < 0) throw failed('memfd_create', name, output);
    try {
      const { size } = fstatSync(input);
      ftruncateSync(output, size);
      let dataBytes = 0;
      forEachExtent(input, size, source, (start, end) => {
        copyRange(input, output, start, end, source);
        dataBytes += end - start;
      });
      return { fd: output, size, dataBytes };
    } catch (err) {
      closeSync(output);
      throw err;
    }
  } finally {
    closeSync(input);
  }
}
