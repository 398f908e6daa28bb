import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpfsMayUseHugePages } from '@vfs/harness/tmpfs_huge_pages';
import { copyIntoMemfd, punchZeroPages } from './sparse_copy';

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

describe('punchZeroPages', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync('/dev/shm/vfs-zero-pages-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Pages of 4 KiB: 'd' holds data, 'z' zeros written to it, '.' a hole. */
  function pagesFile(layout: string): string {
    const path = join(dir, 'ram');
    const fd = openSync(path, 'w');
    for (const [index, kind] of [...layout].entries()) {
      const page = Buffer.alloc(4096);
      if (kind === 'd') page.write(`page ${index}`, 100 + index);
      if (kind !== '.') writeSync(fd, page, 0, page.length, index * 4096);
    }
    ftruncateSync(fd, layout.length * 4096);
    closeSync(fd);
    return path;
  }

  /** The file's pages as the layout string: what is data, what reads as zeros from a hole. */
  function layoutOf(path: string): string {
    const fd = openSync(path, 'r');
    try {
      const pages = fstatSync(fd).size / 4096;
      return Array.from({ length: pages }, (_, i) => {
        const page = Buffer.alloc(4096);
        readSync(fd, page, 0, 4096, i * 4096);
        return page.equals(Buffer.alloc(4096)) ? '.' : 'd';
      }).join('');
    } finally {
      closeSync(fd);
    }
  }

  // Counted page by page: a tmpfs with huge pages may zero a punched page instead of freeing it.
  const pageExact = tmpfsMayUseHugePages('/dev/shm') ? it.skip : it;

  pageExact('turns pages of zeros into holes, wherever they are in an extent, and keeps every byte', () => {
    // Zero runs at an extent's start, middle and end, one longer than a read (1 MiB), and a lone one.
    const layout = `zzd${'z'.repeat(300)}dzd..zzzdd${'z'.repeat(5)}`;
    const path = pagesFile(layout);
    const before = readFileSync(path);
    const blocksBefore = statSync(path).blocks;
    const zeros = [...layout].filter((k) => k === 'z').length;
    expect(punchZeroPages(path)).toBe(zeros * 4096);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(layoutOf(path)).toBe(layout.replaceAll('z', '.'));
    expect((blocksBefore - statSync(path).blocks) * 512).toBe(zeros * 4096);
    // Nothing left to free, and a copy holds the data pages only.
    expect(punchZeroPages(path)).toBe(0);
    const copy = copyIntoMemfd(path, 'vfs-test');
    try {
      expect(copy.dataBytes).toBe([...layout].filter((k) => k === 'd').length * 4096);
    } finally {
      closeSync(copy.fd);
    }
  });

  it('names a file it cannot open', () => {
    expect(() => punchZeroPages(join(dir, 'missing'))).toThrow(/ENOENT.*missing/);
  });
});
