import { parseGuestBenchArgs } from './guest_args';

describe('parseGuestBenchArgs', () => {
  it('runs every back end, the DAX pair if our QEMU allows, in both cache modes, three rounds at scale 0.1, by default', () => {
    expect(parseGuestBenchArgs([])).toEqual({
      runs: 3,
      warmup: 0,
      scale: 0.1,
      treeFiles: 300,
      backends: ['ours', 'c', 'rust', '9p', 'ours-vmm', 'ours-dax', 'ours-dax-inode'],
      daxRequired: false,
      vmmQemu: '/opt/vfs/qemu/bin/qemu-system-x86_64',
      caches: ['auto', 'none'],
      json: undefined,
    });
  });

  it('profiles our daemon into the directory --cpu-prof names, and not by default', () => {
    expect(parseGuestBenchArgs(['--cpu-prof', '/prof'])).toMatchObject({ cpuProf: '/prof' });
    expect(parseGuestBenchArgs([])?.cpuProf).toBeUndefined();
  });

  it('requires the DAX pair with --dax or when --backends names it, and takes our QEMU from --vmm', () => {
    expect(parseGuestBenchArgs(['--dax', '--vmm', '/q'])).toMatchObject({
      backends: ['ours', 'c', 'rust', '9p', 'ours-vmm', 'ours-dax', 'ours-dax-inode'],
      daxRequired: true,
      vmmQemu: '/q',
    });
    expect(parseGuestBenchArgs(['--backends', 'ours,c', '--dax'])).toMatchObject({
      backends: ['ours', 'c', 'ours-vmm', 'ours-dax', 'ours-dax-inode'],
      daxRequired: true,
    });
    expect(parseGuestBenchArgs(['--backends', 'ours-dax'])).toMatchObject({
      backends: ['ours-dax'],
      daxRequired: true,
    });
    expect(parseGuestBenchArgs(['--backends', 'ours,9p'])).toMatchObject({ daxRequired: false });
  });

  it('makes --quick one round of cache=auto at scale 0.05, and lets later flags refine it', () => {
    expect(parseGuestBenchArgs(['--quick'])).toMatchObject({ runs: 1, scale: 0.05, caches: ['auto'] });
    expect(parseGuestBenchArgs(['--quick', '--scale=0.02', '--json', 'out.json'])).toMatchObject({
      runs: 1,
      scale: 0.02,
      treeFiles: 60,
      json: 'out.json',
    });
  });

  it('takes subsets of back ends and cache modes and refuses unknown ones', () => {
    expect(parseGuestBenchArgs(['--backends', 'ours,9p', '--cache', 'none'])).toMatchObject({
      backends: ['ours', '9p'],
      caches: ['none'],
    });
    expect(() => parseGuestBenchArgs(['--backends', 'ours,nfs'])).toThrow(/--backends must be/);
    expect(() => parseGuestBenchArgs(['--cache', 'always'])).toThrow(/--cache must be/);
  });

  it('refuses unknown options, missing values and non-positive sizes; --help gives null', () => {
    expect(() => parseGuestBenchArgs(['--rounds', '3'])).toThrow(/Unknown option '--rounds'/);
    expect(() => parseGuestBenchArgs(['--json'])).toThrow(/'--json <value>' argument missing/);
    expect(() => parseGuestBenchArgs(['--scale', '0'])).toThrow(/--scale must be positive/);
    expect(() => parseGuestBenchArgs(['--runs', '0'])).toThrow(/--runs must be an integer >= 1/);
    expect(parseGuestBenchArgs(['--help'])).toBeNull();
  });
});
