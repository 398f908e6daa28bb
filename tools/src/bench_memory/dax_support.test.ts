import { daxUnavailableReason } from './dax_support';

describe('daxUnavailableReason', () => {
  it('is null when the QEMU DAX check is ok', () => {
    expect(
      daxUnavailableReason('ok    QEMU       x\nok    QEMU DAX   vhost-user-test-device-pci with shared memory\n'),
    ).toBeNull();
  });

  it('is the check detail when it warns or fails', () => {
    const output = 'ok    QEMU       x\nFAIL  QEMU DAX   daemon.dax_window_mib = 256 but QEMU cannot map DAX windows\n';
    expect(daxUnavailableReason(output)).toBe('daemon.dax_window_mib = 256 but QEMU cannot map DAX windows');
  });
});
