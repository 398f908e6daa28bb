import { rootfsSteps } from './rootfs';

function overlayData(rootfs: Parameters<typeof rootfsSteps>[0]): unknown {
  return rootfsSteps(rootfs)[3]?.[5];
}

describe('rootfsSteps overlay data', () => {
  it('puts userxattr and the snapshotter options before the layers', () => {
    expect(
      overlayData({
        kind: 'overlay',
        lowerDirs: ['/l1', '/l0'],
        upperDir: '/u/fs',
        workDir: '/u/work',
        options: ['index=off'],
      }),
    ).toBe('userxattr,index=off,lowerdir=/l1:/l0,upperdir=/u/fs,workdir=/u/work');
  });

  it('mounts a read-only overlay without upper and work dirs', () => {
    expect(overlayData({ kind: 'overlay', lowerDirs: ['/l1', '/l0'] })).toBe('userxattr,lowerdir=/l1:/l0');
  });

  it('refuses a lone upper dir, a single-layer read-only overlay and options that set layers', () => {
    expect(() => rootfsSteps({ kind: 'overlay', lowerDirs: ['/l0'], upperDir: '/u' })).toThrow(
      /both upperDir and workDir/,
    );
    expect(() => rootfsSteps({ kind: 'overlay', lowerDirs: ['/l0'] })).toThrow(/two lower dirs/);
    expect(() => rootfsSteps({ kind: 'overlay', lowerDirs: ['/a', '/b'], options: ['upperdir=/x'] })).toThrow(
      /not allowed/,
    );
  });
});
