import { GuestWorkloadError, mountOptionsOf, parseGuestOutput, rateOf } from './guest_output';

describe('parseGuestOutput', () => {
  it('reads every phase line of a finished run, console noise around them', () => {
    const console =
      'SeaBIOS\r\nVFSBENCH-BEGIN\r\nVFSBENCH seq-write 0.500000 2000000 bytes\r\n[ 1.2] kernel line\r\n' +
      'VFSBENCH create 0.250000 100 ops\r\nVFSBENCH-END\r\n';
    expect(parseGuestOutput(console)).toEqual([
      { phase: 'seq-write', seconds: 0.5, amount: 2_000_000, unit: 'bytes' },
      { phase: 'create', seconds: 0.25, amount: 100, unit: 'ops' },
    ]);
  });

  it('fails with the workload error line', () => {
    expect(() => parseGuestOutput('VFSBENCH-BEGIN\nVFSBENCH-ERROR create /mnt/share/x: No space left\n')).toThrow(
      /create \/mnt\/share\/x: No space left/,
    );
  });

  it('fails a run without the end marker', () => {
    expect(() => parseGuestOutput('VFSBENCH-BEGIN\nVFSBENCH create 0.1 10 ops\n')).toThrow(GuestWorkloadError);
  });

  it('keeps a phase the mount could not do in its place, marked skipped with why', () => {
    const console =
      'VFSBENCH-BEGIN\nVFSBENCH-SKIP mmap-write bytes No such device\r\nVFSBENCH unlink 0.5 20 ops\nVFSBENCH-END\n';
    expect(parseGuestOutput(console)).toEqual([
      { phase: 'mmap-write', seconds: 0, amount: 0, unit: 'bytes', skipped: 'No such device' },
      { phase: 'unlink', seconds: 0.5, amount: 20, unit: 'ops' },
    ]);
  });
});

describe('mountOptionsOf', () => {
  it("reads the share's mount options init printed, or null without the line", () => {
    expect(
      mountOptionsOf('Booting from ROM..VFSBENCH-MOUNT virtiofs rw,relatime,dax=always\r\nVFSBENCH-BEGIN\n'),
    ).toEqual(['rw', 'relatime', 'dax=always']);
    expect(mountOptionsOf('VFSBENCH-BEGIN\n')).toBeNull();
  });
});

describe('rateOf', () => {
  it('gives MB/s for bytes and the unit per second otherwise', () => {
    expect(rateOf({ phase: 's', seconds: 2, amount: 4e6, unit: 'bytes' })).toEqual({ rate: 2, unit: 'MB/s' });
    expect(rateOf({ phase: 'c', seconds: 0.5, amount: 100, unit: 'ops' })).toEqual({ rate: 200, unit: 'ops/s' });
  });
});
