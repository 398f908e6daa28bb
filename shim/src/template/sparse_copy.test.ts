import { closeSync, fstatSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { copyIntoMemfd } from './sparse_copy';

const MIB = 1024 * 1024;

describe('copyIntoMemfd', () => {
  let dir: string;
  const fds: number[] = [];
  beforeEach(() => {
    // tmpfs, where templates live.
    dir = mkdtempSync('/dev/shm/vfs-sparse-copy-');
  });
  afterEach(() => {
    for (const fd of fds.splice(0)) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  function sparseFile(size: number, writes: readonly [number, string][]): string {
    const path = join(dir, 'source');
    const fd = openSync(path, 'w');
    for (const [offset, text] of writes) writeSync(fd, text, offset);
    ftruncateSync(fd, size);
    closeSync(fd);
    return path;
  }

  it('copies the data into a memfd and keeps the holes', () => {
    const source = sparseFile(64 * MIB, [
      [0, 'first page'],
      [10 * MIB + 17, 'middle'],
      [64 * MIB - 5, 'tail!'],
    ]);
    const copy = copyIntoMemfd(source, 'vfs-test');
    fds.push(copy.fd);
    expect(copy.size).toBe(64 * MIB);
    expect(readFileSync(`/proc/self/fd/${copy.fd}`).equals(readFileSync(source))).toBe(true);
    // A few pages' worth of data, not 64 MiB (pages may be huge on some hosts).
    expect(copy.dataBytes).toBeLessThan(16 * MIB);
    expect(fstatSync(copy.fd).blocks * 512).toBeLessThan(16 * MIB);
  });

  it('copies a file that is all hole', () => {
    const copy = copyIntoMemfd(sparseFile(8 * MIB, []), 'vfs-test');
    fds.push(copy.fd);
    expect({ size: copy.size, dataBytes: copy.dataBytes }).toEqual({ size: 8 * MIB, dataBytes: 0 });
    expect(fstatSync(copy.fd).size).toBe(8 * MIB);
  });

  it('names a missing source', () => {
    expect(() => copyIntoMemfd(join(dir, 'missing'), 'vfs-test')).toThrow(/ENOENT.*missing/);
  });
});
