import { defaultConfig } from '@vfs/runtime-config';
import { plugsSharesLate } from './vm_bringup';

describe('plugsSharesLate', () => {
  const config = defaultConfig();
  const configWith = (hypervisor: object, daemon: object = {}, agent: object = {}) => ({
    ...config,
    hypervisor: { ...config.hypervisor, ...hypervisor },
    daemon: { ...config.daemon, ...daemon },
    agent: { ...config.agent, ...agent },
  });

  it('starts the daemon beside QEMU by default: q35, the runtime on pmem, no DAX window', () => {
    expect(plugsSharesLate(config)).toBe(true);
  });

  it('gives QEMU the shares at start where the guest boots from a share, cannot hotplug fast, or maps a window', () => {
    expect(plugsSharesLate(configWith({}, {}, { runtime: 'share' }))).toBe(false);
    expect(plugsSharesLate(configWith({ machine: 'microvm-pcie' }))).toBe(false);
    expect(plugsSharesLate(configWith({ machine: 'microvm' }))).toBe(false);
    expect(plugsSharesLate(configWith({}, { dax_window_mib: 256 }))).toBe(false);
  });
});
