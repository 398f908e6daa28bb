import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { copySparseFile } from './sparse_copy';

const MIB = 1024 * 1024;

describe('copySparseFile', () => {
  let dir: string;
  beforeEach(() => {
    // tmpfs, where templates live; its holes are exact.
    dir = mkdtempSync('/dev/shm/vfs-sparse-copy-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function sparseFile(size: number, writes: readonly [number, string][]): string {
    const path = join(dir, 'source');
    const fd = openSync(path, 'w');
    for (const [offset, text] of writes) writeSync(fd, text, offset);
    ftruncateSync(fd, size);
    closeSync(fd);
    return path;
  }

  it('copies the data and keeps the holes', () => {
    const source = sparseFile(64 * MIB, [
      [0, 'first page'],
      [10 * MIB + 17, 'middle'],
      [64 * MIB - 5, 'tail!'],
    ]);
    const dest = join(dir, 'dest');
    const { size, dataBytes } = copySparseFile(source, dest);
    expect(size).toBe(64 * MIB);
    expect(readFileSync(dest).equals(readFileSync(source))).toBe(true);
    expect(statSync(dest).size).toBe(64 * MIB);
    // Three pages' worth of data, not 64 MiB.
    expect(dataBytes).toBeLessThan(MIB);
    expect(statSync(dest).blocks * 512).toBeLessThan(MIB);
  });

  it('copies a file that is all hole', () => {
    const source = sparseFile(8 * MIB, []);
    const dest = join(dir, 'dest');
    expect(copySparseFile(source, dest)).toEqual({ size: 8 * MIB, dataBytes: 0 });
    expect(statSync(dest).size).toBe(8 * MIB);
  });

  it('never overwrites the destination, and names a missing source', () => {
    const source = sparseFile(MIB, [[0, 'x']]);
    const dest = join(dir, 'dest');
    copySparseFile(source, dest);
    expect(() => copySparseFile(source, dest)).toThrow(/EEXIST/);
    expect(() => copySparseFile(join(dir, 'missing'), join(dir, 'd2'))).toThrow(/ENOENT.*missing/);
  });
});
