import { defaultConfig, type VfsConfig } from '@vfs/runtime-config';
import {
  checkQemuBinary,
  checkQemuDevices,
  checkQemuMachines,
  deviceNames,
  machineNames,
  neededDevices,
} from './qemu_checks';

// Excerpts of QEMU 7.2's `-device help` and `-machine help`.
const DEVICE_HELP = `Controller/Bridge/Hub devices:
name "pcie-root-port", bus PCI, desc "PCI Express Root Port"

Storage devices:
name "vhost-user-fs-device", bus virtio-bus
name "vhost-user-fs-pci", bus PCI

Misc devices:
name "virtio-balloon-device", bus virtio-bus
name "virtio-balloon-pci", bus PCI, alias "virtio-balloon"

Input devices:
name "virtio-serial-device", bus virtio-bus
name "virtio-serial-pci", bus PCI, alias "virtio-serial"
name "virtserialport", bus virtio-serial-bus
`;
const MACHINE_HELP = `Supported machines are:
microvm              microvm (i386)
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)
`;

const hypervisor = (overrides: Partial<VfsConfig['hypervisor']>): VfsConfig['hypervisor'] => ({
  ...defaultConfig().hypervisor,
  ...overrides,
});
const listed = (stdout: string) => ({ ok: true, stdout }) as const;

describe('QEMU help parsing', () => {
  it('reads device and machine names', () => {
    expect(deviceNames(DEVICE_HELP)).toEqual(
      new Set([
        'pcie-root-port',
        'vhost-user-fs-device',
        'vhost-user-fs-pci',
        'virtio-balloon-device',
        'virtio-balloon-pci',
        'virtio-serial-device',
        'virtio-serial-pci',
        'virtserialport',
      ]),
    );
    expect(machineNames(MACHINE_HELP)).toEqual(new Set(['microvm', 'pc', 'q35']));
  });
});

describe('neededDevices', () => {
  it('is virtio-mmio on microvm, PCI on q35, plus root ports where volumes hot-plug', () => {
    expect(neededDevices(hypervisor({ machine: 'microvm' }))).toEqual([
      'vhost-user-fs-device',
      'virtio-serial-device',
      'virtserialport',
      'virtio-balloon-device',
    ]);
    expect(neededDevices(hypervisor({ machine: 'microvm-pcie', hotplug_slots: 4 }))).toEqual([
      'vhost-user-fs-device',
      'virtio-serial-device',
      'virtserialport',
      'pcie-root-port',
      'vhost-user-fs-pci',
      'virtio-balloon-device',
    ]);
    expect(neededDevices(hypervisor({ machine: 'q35', hotplug_slots: 0 }))).toEqual([
      'vhost-user-fs-pci',
      'virtio-serial-pci',
      'virtserialport',
      'virtio-balloon-pci',
    ]);
  });

  it('needs the balloon only while guest-freed memory is reclaimed', () => {
    const q35 = (reclaim: boolean) =>
      neededDevices(hypervisor({ machine: 'q35', hotplug_slots: 0, reclaim_guest_freed_memory: reclaim }));
    expect(q35(true)).toContain('virtio-balloon-pci');
    expect(q35(false)).not.toContain('virtio-balloon-pci');
  });

  it('adds the device that carries the runtime when it is a file: virtio-blk for the image, virtio-pmem for pmem', () => {
    expect(neededDevices(hypervisor({ machine: 'microvm', hotplug_slots: 0 }), 'image')).toContain('virtio-blk-device');
    expect(neededDevices(hypervisor({ machine: 'q35', hotplug_slots: 0 }), 'image')).toContain('virtio-blk-pci');
    expect(neededDevices(hypervisor({ machine: 'q35', hotplug_slots: 0 }), 'pmem')).toContain('virtio-pmem-pci');
    expect(neededDevices(hypervisor({ machine: 'q35', hotplug_slots: 0 }), 'share')).not.toContain('virtio-pmem-pci');
  });
});

describe('checkQemuDevices', () => {
  it('passes when QEMU has every device the configuration needs', () => {
    expect(checkQemuDevices(hypervisor({ machine: 'q35', hotplug_slots: 2 }), listed(DEVICE_HELP))).toEqual({
      status: 'ok',
      what: 'QEMU devices',
      detail:
        'vhost-user-fs-pci, virtio-serial-pci, virtserialport, pcie-root-port, virtio-balloon-pci (machine q35 with hotplug)',
    });
  });

  it('fails naming the missing devices', () => {
    const noPci = DEVICE_HELP.split('\n')
      .filter((line) => !line.includes('PCI'))
      .join('\n');
    expect(checkQemuDevices(hypervisor({ machine: 'microvm-pcie', hotplug_slots: 4 }), listed(noPci))).toEqual({
      status: 'FAIL',
      what: 'QEMU devices',
      detail: 'pcie-root-port, vhost-user-fs-pci missing, needed by machine microvm-pcie with hotplug',
    });
  });

  it('names the runtime when its device is missing', () => {
    // DEVICE_HELP lists no virtio-pmem-pci.
    expect(checkQemuDevices(hypervisor({ machine: 'q35', hotplug_slots: 0 }), listed(DEVICE_HELP), 'pmem')).toEqual({
      status: 'FAIL',
      what: 'QEMU devices',
      detail: 'virtio-pmem-pci missing, needed by machine q35, runtime pmem',
    });
  });

  it('fails when QEMU cannot list them', () => {
    expect(checkQemuDevices(hypervisor({}), { ok: false, error: 'qemu-system-x86_64 not found on PATH' })).toEqual({
      status: 'FAIL',
      what: 'QEMU devices',
      detail: 'cannot list them: qemu-system-x86_64 not found on PATH',
    });
  });
});

describe('checkQemuMachines', () => {
  it('lists microvm and q35 and names the configured machine', () => {
    expect(checkQemuMachines(hypervisor({ machine: 'microvm-pcie' }), listed(MACHINE_HELP))).toEqual({
      status: 'ok',
      what: 'QEMU machines',
      detail: 'microvm, q35 (configured: microvm-pcie)',
    });
  });

  it('fails when the configured machine type is missing', () => {
    const noMicrovm = MACHINE_HELP.replace(/^microvm .*\n/m, '');
    expect(checkQemuMachines(hypervisor({ machine: 'microvm' }), listed(noMicrovm))).toEqual({
      status: 'FAIL',
      what: 'QEMU machines',
      detail: 'QEMU has no microvm machine (configured: microvm; it has q35)',
    });
  });
});

describe('checkQemuBinary', () => {
  it('reports the version line, or fails saying how to fix it', () => {
    const version = 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022\n';
    expect(checkQemuBinary('qemu-system-x86_64', listed(version))).toEqual({
      status: 'ok',
      what: 'QEMU',
      detail: 'qemu-system-x86_64: QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)',
    });
    expect(checkQemuBinary('/opt/qemu', { ok: false, error: '/opt/qemu not found' })).toEqual({
      status: 'FAIL',
      what: 'QEMU',
      detail: '/opt/qemu not found (install QEMU, or set hypervisor.path)',
    });
  });
});
