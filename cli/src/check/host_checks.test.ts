import type { AccelInputs } from '../host/expected_accel';
import { checkAccel, checkCgroupV2, checkContainerd } from './host_checks';

const openable = { state: 'ok' } as const;
const thisBoot = 'boot-1';
const auto = (overrides: Partial<AccelInputs> = {}): AccelInputs => ({
  configured: 'auto',
  kvm: openable,
  cache: { state: 'absent' },
  bootId: thisBoot,
  ...overrides,
});

describe('checkAccel', () => {
  it('reports KVM usable when this boot’s probe succeeded', () => {
    const verdict = { bootId: thisBoot, accel: 'kvm' } as const;
    expect(checkAccel(auto({ cache: { state: 'verdict', verdict } }))).toEqual({
      status: 'ok',
      what: 'accelerator',
      detail: 'KVM usable: a probe boot under KVM succeeded on this host boot',
    });
  });

  it('warns of the TCG fallback when this boot’s probe failed although /dev/kvm opens', () => {
    const verdict = { bootId: thisBoot, accel: 'tcg' } as const;
    const result = checkAccel(auto({ cache: { state: 'verdict', verdict } }));
    expect(result.status).toBe('warn');
    expect(result.detail).toMatch(/^TCG fallback .*\/dev\/kvm exists and is openable, but a probe boot under KVM/);
  });

  it('says the first sandbox probes when nothing was probed yet, and that /dev/kvm opens', () => {
    expect(checkAccel(auto())).toEqual({
      status: 'ok',
      what: 'accelerator',
      detail: 'not probed yet (the first sandbox probes it); /dev/kvm exists and is openable',
    });
  });

  it('ignores a verdict from an earlier boot and an unreadable one', () => {
    const stale = { state: 'verdict', verdict: { bootId: 'boot-0', accel: 'kvm' } } as const;
    expect(checkAccel(auto({ cache: stale })).detail).toMatch(/^not probed since this host booted/);
    expect(checkAccel(auto({ cache: { state: 'corrupt' } })).detail).toMatch(/^the probe verdict is unreadable/);
  });

  it('warns of the TCG fallback when /dev/kvm is missing or does not open, whatever the cache says', () => {
    const verdict = { state: 'verdict', verdict: { bootId: thisBoot, accel: 'kvm' } } as const;
    expect(checkAccel(auto({ kvm: { state: 'missing' }, cache: verdict }))).toEqual({
      status: 'warn',
      what: 'accelerator',
      detail: 'TCG fallback (guests boot several times slower): /dev/kvm does not exist',
    });
    expect(checkAccel(auto({ kvm: { state: 'denied', code: 'EACCES' } })).detail).toMatch(
      /\/dev\/kvm exists but cannot be opened \(EACCES\)$/,
    );
  });

  it('fails accel = "kvm" without a usable /dev/kvm, and takes a configured accelerator as it is', () => {
    expect(checkAccel(auto({ configured: 'kvm', kvm: { state: 'missing' } }))).toEqual({
      status: 'FAIL',
      what: 'accelerator',
      detail: 'accel = "kvm" in the configuration, but /dev/kvm does not exist',
    });
    expect(checkAccel(auto({ configured: 'kvm' }))).toEqual({
      status: 'ok',
      what: 'accelerator',
      detail: 'KVM: accel = "kvm" in the configuration',
    });
    expect(checkAccel(auto({ configured: 'tcg', kvm: { state: 'missing' } }))).toEqual({
      status: 'ok',
      what: 'accelerator',
      detail: 'TCG: accel = "tcg" in the configuration',
    });
  });
});

describe('checkCgroupV2', () => {
  it('lists the controllers on cgroup v2 and warns without it', () => {
    expect(checkCgroupV2(['cpu', 'memory'])).toEqual({
      status: 'ok',
      what: 'cgroup v2',
      detail: 'controllers: cpu memory',
    });
    expect(checkCgroupV2(undefined).status).toBe('warn');
  });
});

describe('checkContainerd', () => {
  it('reports the version line, and warns when containerd is not installed', () => {
    const version = 'containerd github.com/containerd/containerd 1.7.24 abc\n';
    expect(checkContainerd({ ok: true, stdout: version })).toEqual({
      status: 'ok',
      what: 'containerd',
      detail: 'containerd github.com/containerd/containerd 1.7.24 abc',
    });
    expect(checkContainerd({ ok: false, error: 'containerd not found on PATH' })).toEqual({
      status: 'warn',
      what: 'containerd',
      detail: 'containerd not found on PATH: vfs runs under containerd 1.6 or newer',
    });
  });
});
