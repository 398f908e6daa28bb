import { qemuCanDax, qomTypeNames } from './qemu_dax';

// A QMP transcript of the probe, cut down: the greeting, qmp_capabilities, qom-list-types, quit.
const transcript = (...types: string[]) =>
  [
    '{"QMP": {"version": {"qemu": {"micro": 2, "minor": 2, "major": 10}}, "capabilities": ["oob"]}}',
    '{"return": {}}',
    JSON.stringify({ return: types.map((name) => ({ name, parent: 'object' })) }),
    '{"return": {}}',
    '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": false}}',
  ].join('\n');

describe('qomTypeNames', () => {
  it('collects the names qom-list-types returned and ignores every other line', () => {
    const text = `qemu-system-x86_64: warning: something\n${transcript('virtio-shared-memory-mapping', 'q35-machine')}`;
    expect(qomTypeNames(text)).toEqual(new Set(['virtio-shared-memory-mapping', 'q35-machine']));
  });
});

describe('qemuCanDax', () => {
  const devices = new Set(['vhost-user-fs-pci', 'vhost-user-test-device-pci']);

  it('needs both the generic vhost-user device and the shared-memory mapping type', () => {
    expect(qemuCanDax(devices, qomTypeNames(transcript('virtio-shared-memory-mapping')))).toBe(true);
  });

  it('is false for a QEMU whose generic device has no shared memory (10.x, 7.2)', () => {
    expect(qemuCanDax(devices, qomTypeNames(transcript('q35-machine')))).toBe(false);
  });

  it('is false without the generic device', () => {
    expect(qemuCanDax(new Set(['vhost-user-fs-pci']), new Set(['virtio-shared-memory-mapping']))).toBe(false);
  });
});
