// The real commands: QEMU and containerd as installed on this host (`make deps`; where they are
// not, the case that needs them skips), as in the other unit tests that start QEMU. The guest
// files depend on what was built, so only their lines' shape is checked.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@vfs/build/repo-root';
import { hostPrograms } from '@vfs/harness/host_programs';
import { captureIo } from '../../test_support/capture_io';
import { runCli } from '../cli';
import { hostChecks } from './run_check';

describe('vfs-runtime check on this host', () => {
  const env = { ...process.env, VFS_ROOT: repoRoot(), VFS_CONFIG: '' };

  const qemuAndContainerd = hostPrograms('qemu-system-x86_64', 'containerd');

  qemuAndContainerd.it('finds QEMU with the devices and machines vfs needs, and containerd', async () => {
    const results = await hostChecks(env);
    const status = (what: string) => results.find((r) => r.what === what)?.status;
    expect(results.map((r) => r.what)).toEqual([
      'configuration',
      'accelerator',
      'QEMU',
      'QEMU devices',
      'QEMU machines',
      'QEMU DAX',
      'guest kernel',
      'guest initramfs',
      'virtio-fs daemon',
      // The default runtime "auto" is pmem on the default q35.
      'runtime pmem image',
      'VM template',
      'cgroup v2',
      'containerd',
    ]);
    expect(status('configuration')).toBe('ok');
    expect(status('QEMU')).toBe('ok');
    expect(status('QEMU devices')).toBe('ok');
    expect(status('QEMU machines')).toBe('ok');
    // DAX is off by default: a QEMU without vhost-user shared memory is only a warning.
    expect(['ok', 'warn']).toContain(status('QEMU DAX'));
    expect(status('containerd')).toBe('ok');
    // Templates are off by default.
    expect(status('VM template')).toBe('ok');
  });

  it('exits 1 and names the file when the configuration does not load, checking the host still', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfs-cli-check-'));
    try {
      const config = join(dir, 'configuration.toml');
      writeFileSync(config, '[hypervisor]\nvcpus = 0\n');
      const captured = captureIo({ ...env, VFS_CONFIG: config });
      await expect(runCli(['check'], captured.io)).resolves.toBe(1);
      expect(captured.stdout()).toMatch(new RegExp(`^FAIL  configuration  .*${config}.*vcpus`));
      expect(captured.stdout()).toMatch(/\n(ok|warn) +containerd +\S/);
      expect(captured.stdout()).toMatch(/This host cannot run vfs sandboxes: 1 check FAILed\.\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
