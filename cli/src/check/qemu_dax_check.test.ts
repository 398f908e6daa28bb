import { checkQemuDax } from './qemu_dax_check';

const listed = (stdout: string) => ({ ok: true, stdout }) as const;
const UPSTREAM = listed('vhost-user-fs-pci options:\n  chardev=<str>          - ID of a chardev to use as a backend\n');
const OURS = listed(`${UPSTREAM.stdout}  cache-size=<size>      -  (default: 0)\n`);

describe('checkQemuDax', () => {
  it('passes when vhost-user-fs-pci has cache-size and says whether DAX is on', () => {
    expect(checkQemuDax(256, OURS)).toEqual({
      status: 'ok',
      what: 'QEMU DAX',
      detail: 'vhost-user-fs-pci has cache-size; DAX on, 256 MiB windows',
    });
    expect(checkQemuDax(0, OURS).detail).toContain('DAX off (daemon.dax_window_mib = 0)');
  });

  it('fails when the configuration asks for DAX and QEMU cannot map it, naming the remedy', () => {
    const result = checkQemuDax(256, UPSTREAM);
    expect(result.status).toBe('FAIL');
    expect(result.detail).toBe(
      'daemon.dax_window_mib = 256 but QEMU cannot map DAX windows: vhost-user-fs-pci has no cache-size property; ' +
        'set hypervisor.path to our QEMU (make vmm: /opt/vfs/qemu/bin/qemu-system-x86_64)',
    );
  });

  it('only warns when DAX is off', () => {
    const result = checkQemuDax(0, UPSTREAM);
    expect(result.status).toBe('warn');
    expect(result.detail).toMatch(/^unavailable \(vhost-user-fs-pci has no cache-size property\); DAX is off/);
  });

  it('says why when QEMU cannot be asked', () => {
    const result = checkQemuDax(64, { ok: false, error: "qemu-system-x86_64: Device 'vhost-user-fs-pci' not found" });
    expect(result.status).toBe('FAIL');
    expect(result.detail).toContain(
      "cannot list the properties of vhost-user-fs-pci: qemu-system-x86_64: Device 'vhost-user-fs-pci' not found",
    );
  });
});
