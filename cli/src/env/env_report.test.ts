import { VFS_VERSION } from '@vfs/contracts';
import { defaultConfig, resolvePaths } from '@vfs/runtime-config';
import { parse } from 'smol-toml';
import { type EnvFacts, envReport, renderEnv } from './env_report';

const config = resolvePaths(defaultConfig(), '/opt/vfs');
const facts: EnvFacts = {
  loaded: { config, source: 'built-in defaults' },
  root: '/opt/vfs',
  nodeVersion: 'v20.19.0',
  qemuVersion: { ok: true, stdout: 'QEMU emulator version 7.2.22\nCopyright (c) 2003-2022\n' },
  containerdVersion: { ok: false, error: 'containerd not found on PATH' },
  accel: { accel: 'unprobed', why: 'not probed yet (the first sandbox probes it); /dev/kvm exists and is openable' },
  kvm: { state: 'ok' },
  cgroupControllers: ['cpu', 'memory'],
  kernelRelease: '6.1.0-28-amd64',
  arch: 'x64',
};

describe('vfs-runtime env', () => {
  it('reports the versions and the headline settings in kata-runtime env’s sections', () => {
    const report = envReport(facts);
    expect(report.Runtime).toEqual({
      Version: VFS_VERSION,
      Node: 'v20.19.0',
      ConfigSource: 'built-in defaults',
      InstallRoot: '/opt/vfs',
      RuntimeShare: '/opt/vfs/build/runtime',
    });
    expect(report.Hypervisor).toEqual({
      Path: 'qemu-system-x86_64',
      Version: 'QEMU emulator version 7.2.22',
      Machine: config.hypervisor.machine,
      Accel: 'auto',
      AccelInUse: 'unprobed',
      AccelReason: 'not probed yet (the first sandbox probes it); /dev/kvm exists and is openable',
    });
    expect(report.Kernel).toEqual({
      Path: '/opt/vfs/build/guest/vmlinux',
      Initramfs: '/opt/vfs/build/guest/initramfs.cpio.lz4',
      Params: '',
    });
    expect(report.Daemon).toEqual({ Path: '/opt/vfs/build/bin/vfs-virtiofsd', Cache: 'auto', Sandbox: 'namespace' });
    expect(report.Host).toEqual({
      KernelRelease: '6.1.0-28-amd64',
      Arch: 'x64',
      CgroupV2: true,
      Kvm: '/dev/kvm exists and is openable',
      Containerd: 'unavailable (containerd not found on PATH)',
    });
  });

  it('renders TOML whose Configuration table is the whole effective configuration', () => {
    const toml = renderEnv(envReport(facts), 'toml');
    expect(toml).toMatch(/^\[Runtime\]\nVersion = "/);
    expect(toml).toContain('\n[Configuration.hypervisor]\n');
    const parsed = parse(toml);
    expect(parsed.Configuration).toEqual(config);
    expect(parsed.Host).toEqual(envReport(facts).Host);
  });

  it('renders the same report as JSON', () => {
    expect(JSON.parse(renderEnv(envReport(facts), 'json'))).toEqual(envReport(facts));
  });
});
