import { daxCacheSize, devicePropertyNames, qemuCanDax } from './qemu_dax';

// `qemu-system-x86_64 -device vhost-user-fs-pci,help`, cut down.
const help = (...extra: string[]) =>
  [
    'vhost-user-fs-pci options:',
    '  acpi-index=<uint32>    -  (default: 0)',
    ...extra,
    '  chardev=<str>          - ID of a chardev to use as a backend',
    '  queue-size=<uint16>    -  (default: 128)',
    '',
  ].join('\n');

describe('devicePropertyNames', () => {
  it('collects the property names QEMU listed and ignores the heading', () => {
    expect(devicePropertyNames(help())).toEqual(new Set(['acpi-index', 'chardev', 'queue-size']));
  });
});

describe('qemuCanDax', () => {
  it('is true when vhost-user-fs-pci lists cache-size (our QEMU, make vmm)', () => {
    expect(qemuCanDax(devicePropertyNames(help('  cache-size=<size>      -  (default: 0)')))).toBe(true);
  });

  it('is false for an upstream QEMU, whose vhost-user-fs-pci has no cache-size (7.2, 10.x)', () => {
    expect(qemuCanDax(devicePropertyNames(help()))).toBe(false);
  });
});

describe('daxCacheSize', () => {
  it('gives the window in QEMU size syntax', () => {
    expect(daxCacheSize(256)).toBe('256M');
  });
});
