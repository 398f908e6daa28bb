import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('differs once any file of the guest runtime is rebuilt: the launcher and the snapshot too', () => {
    const runtime = mkdtempSync(join(tmpdir(), 'vfs-fingerprint-'));
    try {
      const names = ['node', 'agent.js', 'agent.blob', 'agent.blob.flags', 'vfs-launcher'];
      for (const name of names) writeFileSync(join(runtime, name), name);
      const config = defaultConfig();
      const prints = [poolFingerprint(config, runtime)];
      names.forEach((name, i) => {
        utimesSync(join(runtime, name), 1_000_000 + i, 1_000_000 + i);
        prints.push(poolFingerprint(config, runtime));
      });
      expect(new Set(prints).size).toBe(names.length + 1);
    } finally {
      rmSync(runtime, { recursive: true, force: true });
    }
  });
});
