// Copies a sparse file's data and keeps its holes: a template's guest RAM is 512 MiB of which the
// guest touched ≈ 50, and a plain copy would write (and so allocate on tmpfs) all of it. Node has
// no SEEK_DATA/SEEK_HOLE, so lseek comes from libc; the data moves with copy_file_range, in the
// kernel.
import { closeSync, fstatSync, ftruncateSync, openSync } from 'node:fs';
import { errnoName, libc } from '../libc';

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;

interface SparseCalls {
  lseek(fd: number, offset: number, whence: number): number;
  copyFileRange(fdIn: number, offIn: [number], fdOut: number, offOut: [number], len: number, flags: number): number;
}

let calls: SparseCalls | undefined;

function sparseCalls(): SparseCalls {
  if (calls !== undefined) return calls;
  const { lib } = libc();
  calls = {
    lseek: lib.func('int64_t lseek(int fd, int64_t offset, int whence)'),
    copyFileRange: lib.func(
      'int64_t copy_file_range(int fd_in, _Inout_ int64_t *off_in, int fd_out, _Inout_ int64_t *off_out, size_t len, unsigned int flags)',
    ),
  };
  return calls;
}

function failed(call: string, path: string, result: number): Error {
  return new Error(`${call}(${path}): ${errnoName(-libc().orErrno(result))}`);
}

/** The next data extent at or after `from`, as [start, end); undefined past the last one. */
function nextExtent(fd: number, from: number, size: number, path: string): [number, number] | undefined {
  const { lseek } = sparseCalls();
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
  const { copyFileRange } = sparseCalls();
  const offIn: [number] = [start];
  const offOut: [number] = [start];
  while (offIn[0] < end) {
    const copied = copyFileRange(input, offIn, output, offOut, end - offIn[0], 0);
    if (copied <= 0) throw failed('copy_file_range', source, copied);
  }
}

/** `dest` (created, never overwritten) gets `source`'s size and data, with holes where it has them. */
export function copySparseFile(source: string, dest: string): { size: number; dataBytes: number } {
  const input = openSync(source, 'r');
  try {
    const output = openSync(dest, 'wx', 0o600);
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
      return { size, dataBytes };
    } finally {
      closeSync(output);
    }
  } finally {
    closeSync(input);
  }
}
