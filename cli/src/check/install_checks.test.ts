import { ConfigError, defaultConfig } from '@vfs/runtime-config';
import type { Access } from '../host/host_probe';
import { checkConfig, checkInstalledFile, checkRuntimeShare, configFailure } from './install_checks';

describe('install checks', () => {
  it('name where the configuration came from, or the loader’s error', () => {
    expect(checkConfig({ config: defaultConfig(), source: '/etc/vfs/configuration.toml' })).toEqual({
      status: 'ok',
      what: 'configuration',
      detail: 'from /etc/vfs/configuration.toml',
    });
    const error = new ConfigError({ file: '/etc/vfs/configuration.toml', line: 3, key: 'hypervisor.vcpus' }, 'bad');
    expect(configFailure(error)).toEqual({ status: 'FAIL', what: 'configuration', detail: error.message });
  });

  it('fail a missing or unusable file with the way to fix it', () => {
    const fix = 'make guest, or set hypervisor.kernel';
    expect(checkInstalledFile('guest kernel', '/k', { state: 'ok' }, fix)).toEqual({
      status: 'ok',
      what: 'guest kernel',
      detail: '/k',
    });
    expect(checkInstalledFile('guest kernel', '/k', { state: 'missing' }, fix).detail).toBe(
      '/k is missing (make guest, or set hypervisor.kernel)',
    );
    expect(checkInstalledFile('guest kernel', '/k', { state: 'denied', code: 'EACCES' }, fix)).toEqual({
      status: 'FAIL',
      what: 'guest kernel',
      detail: '/k cannot be used (EACCES; make guest, or set hypervisor.kernel)',
    });
  });

  it('fail a runtime share without the agent or node', () => {
    const only =
      (present: string) =>
      (path: string): Access =>
        path.endsWith(`/${present}`) ? { state: 'ok' } : { state: 'missing' };
    expect(checkRuntimeShare('/r', () => ({ state: 'ok' }))).toEqual({
      status: 'ok',
      what: 'runtime share',
      detail: '/r',
    });
    expect(checkRuntimeShare('/r', only('node'))).toEqual({
      status: 'FAIL',
      what: 'runtime share',
      detail: '/r lacks agent.js or cannot read it (make runtime)',
    });
  });
});
