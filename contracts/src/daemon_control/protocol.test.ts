import { ControlProtocolError, parseRequest, type AddExport } from './protocol';

const add = { id: 1, op: 'add', tag: 't', socket: '/s', dir: 'd' };
const line = (extra: object): string => JSON.stringify({ ...add, ...extra });

describe('control protocol: add with DAX', () => {
  test('dax is off by default and takes a 256 MiB window when on without a size', () => {
    const off = parseRequest(line({})) as AddExport;
    expect(off.dax).toBe(false);
    expect(off.daxWindowMiB).toBeUndefined();
    expect(parseRequest(line({ dax: true }))).toMatchObject({ dax: true, daxWindowMiB: 256 });
    expect(parseRequest(line({ dax: true, readonly: true, daxWindowMiB: 64 }))).toMatchObject({
      dax: true,
      readonly: true,
      daxWindowMiB: 64,
    });
  });

  test('daxMinFileKiB selects per-inode DAX; 0 means every file, as without it', () => {
    expect(parseRequest(line({ dax: true, daxMinFileKiB: 1024 }))).toMatchObject({
      dax: true,
      daxWindowMiB: 256,
      daxMinFileKiB: 1024,
    });
    expect((parseRequest(line({ dax: true, daxWindowMiB: 64, daxMinFileKiB: 0 })) as AddExport).daxMinFileKiB).toBe(
      undefined,
    );
  });

  test.each([
    [{ dax: 'yes' }, /field 'dax': expected boolean/],
    [{ dax: true, daxWindowMiB: '64' }, /field 'daxWindowMiB': expected number/],
    [{ dax: true, daxWindowMiB: 5 }, /not a multiple of the guest's 2 MiB DAX ranges/],
    [{ dax: true, daxWindowMiB: 96 }, /96 MiB is not a power of two \(QEMU's DAX window is a PCI BAR\)/],
    [{ dax: true, daxWindowMiB: 0 }, /expected a positive whole number of MiB/],
    [{ daxWindowMiB: 64 }, /field 'daxWindowMiB': only with 'dax': true/],
    [{ daxMinFileKiB: 1024 }, /field 'daxMinFileKiB': only with 'dax': true/],
    [{ dax: true, daxMinFileKiB: '1024' }, /field 'daxMinFileKiB': expected number/],
    [{ dax: true, daxMinFileKiB: -1 }, /expected a whole number of KiB \(0 = every file\)/],
    [{ dax: true, daxMinFileKiB: 1.5 }, /expected a whole number of KiB/],
  ])('%j is refused', (extra, message) => {
    expect(() => parseRequest(line(extra))).toThrow(ControlProtocolError);
    expect(() => parseRequest(line(extra))).toThrow(message);
  });
});
