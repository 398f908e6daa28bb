import type { ShimSpec } from '../oci_spec';
import { specCgroupPath } from './sandbox_cgroup';

function withPath(cgroupsPath: unknown): ShimSpec {
  return { ociVersion: '1.0.2', linux: { cgroupsPath } as ShimSpec['linux'] };
}

describe('the sandbox cgroup path', () => {
  it('takes a cgroupfs path below the root, as runc does', () => {
    expect(specCgroupPath(withPath('/kubepods/burstable/pod1/abc'))).toBe('/kubepods/burstable/pod1/abc');
    expect(specCgroupPath(withPath('/k8s.io/web'))).toBe('/k8s.io/web');
  });

  it("leaves alone the root, a systemd driver's path, and paths that are not normal or printable", () => {
    for (const path of [
      undefined,
      '',
      '/',
      '//',
      '/./',
      '/a/',
      '/a//b',
      '/a/../b',
      '/a/./b',
      'kubepods.slice:cri-containerd:abc',
      '/x\n/etc/foo',
      42,
    ])
      expect(specCgroupPath(withPath(path))).toBeUndefined();
    expect(specCgroupPath({ ociVersion: '1.0.2' })).toBeUndefined();
  });
});
