import { defaultConfig } from '@vfs/runtime-config';
import { poolFingerprint } from './pool_fingerprint';

describe('poolFingerprint', () => {
  it('differs when the VM would boot with another device set: a balloon-less pool VM is not served to a reclaiming shim', () => {
    const config = defaultConfig();
    const noBalloon = { ...config, hypervisor: { ...config.hypervisor, reclaim_guest_freed_memory: false } };
    expect(poolFingerprint(noBalloon, '/nonexistent/runtime')).not.toBe(
      poolFingerprint(config, '/nonexistent/runtime'),
    );
    expect(poolFingerprint(defaultConfig(), '/nonexistent/runtime')).toBe(
      poolFingerprint(config, '/nonexistent/runtime'),
    );
  });

  it('differs with the DAX window: a pool VM whose shares have none (or another size) is not served to a DAX shim', () => {
    const config = defaultConfig();
    const withDax = (mib: number) => ({ ...config, daemon: { ...config.daemon, dax_window_mib: mib } });
    const prints = [config, withDax(256), withDax(512)].map((c) => poolFingerprint(c, '/nonexistent/runtime'));
    expect(new Set(prints).size).toBe(3);
  });
});
