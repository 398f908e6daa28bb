// A template's guest RAM into a new memfd, holes kept: the template touched ≈ 50 of its 512 MiB,
// and a plain copy would write (so allocate) all of it. A memfd, not a file on the template's
// tmpfs: a guest's RAM must not count against that mount's size limit, whose exhaustion would kill
// whichever VM faults next. Node has no SEEK_DATA/SEEK_HOLE, memfd_create or sendfile, so they
// come from libc; sendfile moves the data in the kernel (copy_file_range refuses to cross from a
// tmpfs mount to the memfd's).
import { closeSync, fstatSync, ftruncateSync, openSync } from 'node:fs';
import { errnoName, libc } from '../libc';

const SEEK_SET = 0;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;
const MFD_CLOEXEC = 1;

interface RamCalls {
  lseek(fd: number, offset: number, whence: number): number;
  sendfile(outFd: number, inFd: number, offset: [number], count: number): number;
  memfdCreate(name: string, flags: number): number;
}

let calls: RamCalls | undefined;

function ramCalls(): RamCalls {
  if (calls !== undefined) return calls;
  const { lib } = libc();
  calls = {
    lseek: lib.func('int64_t lseek(int fd, int64_t offset, int whence)'),
    sendfile: lib.func('int64_t sendfile(int out_fd, int in_fd, _Inout_ int64_t *offset, size_t count)'),
    memfdCreate: lib.func('int memfd_create(const char *name, unsigned int flags)'),
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
      for (let extent = nextExtent(input, 0, size, source); extent !== undefined; ) {
        const [start, end] = extent;
        copyRange(input, output, start, end, source);
        dataBytes += end - start;
        extent = end < size ? nextExtent(input, end, size, source) : undefined;
      }
      return { fd: output, size, dataBytes };
    } catch (err) {
      closeSync(output);
      throw err;
    }
  } finally {
    closeSync(input);
  }
}
