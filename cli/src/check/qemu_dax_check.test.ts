import { checkQemuDax } from './qemu_dax_check';

const listed = (stdout: string) => ({ ok: true, stdout }) as const;
const DEVICES = listed('name "vhost-user-fs-pci", bus PCI\nname "vhost-user-test-device-pci", bus PCI\n');
const WITH_SHMEM = listed('{"return": [{"name": "virtio-shared-memory-mapping", "parent": "object"}]}\n');
const WITHOUT_SHMEM = listed('{"return": [{"name": "q35-machine", "parent": "machine"}]}\n');

describe('checkQemuDax', () => {
  it('passes with a DAX-capable QEMU and says whether DAX is on', () => {
    expect(checkQemuDax(256, DEVICES, WITH_SHMEM)).toEqual({
      status: 'ok',
      what: 'QEMU DAX',
      detail: 'vhost-user-test-device-pci with vhost-user shared memory; DAX on, 256 MiB windows',
    });
    expect(checkQemuDax(0, DEVICES, WITH_SHMEM).detail).toContain('DAX off (daemon.dax_window_mib = 0)');
  });

  it('fails when the configuration asks for DAX and QEMU cannot map it, naming the remedy', () => {
    const result = checkQemuDax(256, DEVICES, WITHOUT_SHMEM);
    expect(result.status).toBe('FAIL');
    expect(result.detail).toBe(
      'daemon.dax_window_mib = 256 but QEMU cannot map DAX windows: vhost-user-test-device-pci has no vhost-user ' +
        'shared memory (no virtio-shared-memory-mapping); set hypervisor.path to a QEMU 11.0 or newer',
    );
  });

  it('only warns when DAX is off', () => {
    const result = checkQemuDax(0, listed('name "vhost-user-fs-pci", bus PCI\n'), WITHOUT_SHMEM);
    expect(result.status).toBe('warn');
    expect(result.detail).toMatch(/^unavailable \(no vhost-user-test-device-pci\); DAX is off/);
  });

  it('says why when QEMU cannot be asked', () => {
    const result = checkQemuDax(64, DEVICES, { ok: false, error: 'qemu did not answer within 10 s' });
    expect(result.status).toBe('FAIL');
    expect(result.detail).toContain('cannot list its QOM types over QMP: qemu did not answer within 10 s');
  });
});
