import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPrograms } from '@vfs/harness/host_programs';
import { detectAccel } from './accel';

// Probing boots qemu-system-x86_64 (the missing kernel fails the boot at once).
const qemu = hostPrograms('qemu-system-x86_64');
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

describe('detectAccel', () => {
  let dir: string;
  let cachePath: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-accel-test-'));
    cachePath = join(dir, 'accel.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // A kernel path that does not exist makes any probe boot fail at once.
  const missingKernel = { kernelPath: '/nonexistent/vmlinux', initrdPath: '/nonexistent/initrd' };

  it('chooses TCG without probing when the KVM device is not accessible', async () => {
    await expect(detectAccel({ ...missingKernel, cachePath, kvmDevice: join(dir, 'no-kvm') })).resolves.toBe('tcg');
    expect(() => readFileSync(cachePath)).toThrow();
  });

  it('reuses the verdict cached for this host boot without probing', async () => {
    writeFileSync(cachePath, JSON.stringify({ bootId, accel: 'kvm' }));
    await expect(detectAccel({ ...missingKernel, cachePath, kvmDevice: '/dev/null' })).resolves.toBe('kvm');
  });

  qemu.it(
    'probes again when the cached verdict is from another boot, and falls back to TCG when the guest does not boot',
    async () => {
      writeFileSync(cachePath, JSON.stringify({ bootId: 'another-boot', accel: 'kvm' }));
      await expect(detectAccel({ ...missingKernel, cachePath, kvmDevice: '/dev/null' })).resolves.toBe('tcg');
      expect(JSON.parse(readFileSync(cachePath, 'utf8'))).toEqual({ bootId, accel: 'tcg' });
    },
  );

  qemu.it('treats a corrupt cache as missing', async () => {
    writeFileSync(cachePath, '{not json');
    await expect(detectAccel({ ...missingKernel, cachePath, kvmDevice: '/dev/null' })).resolves.toBe('tcg');
  });
});
