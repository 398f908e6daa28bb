// The checks of the host itself: the accelerator, cgroup v2, containerd.
import type { CommandResult } from '../host/command_output';
import { versionLine } from '../host/command_output';
import { type AccelInputs, describeDevice, expectedAccel } from '../host/expected_accel';
import { CGROUP_CONTROLLERS, KVM_DEVICE } from '../host/host_probe';
import { type CheckResult, fail, ok, warn } from './check_result';

const ACCEL = 'accelerator';

export function checkAccel(inputs: AccelInputs): CheckResult {
  if (inputs.configured === 'kvm' && inputs.kvm.state !== 'ok')
    return fail(ACCEL, `accel = "kvm" in the configuration, but ${describeDevice(KVM_DEVICE, inputs.kvm)}`);
  const expected = expectedAccel(inputs);
  switch (expected.accel) {
    case 'kvm':
      return ok(ACCEL, `${inputs.configured === 'kvm' ? 'KVM' : 'KVM usable'}: ${expected.why}`);
    case 'unprobed':
      return ok(ACCEL, expected.why);
    case 'tcg':
      return inputs.configured === 'tcg'
        ? ok(ACCEL, `TCG: ${expected.why}`)
        : warn(ACCEL, `TCG fallback (guests boot several times slower): ${expected.why}`);
  }
}

export function checkCgroupV2(controllers: readonly string[] | undefined): CheckResult {
  return controllers === undefined
    ? warn('cgroup v2', `no ${CGROUP_CONTROLLERS}: the host is not on the unified cgroup v2 hierarchy`)
    : ok('cgroup v2', `controllers: ${controllers.join(' ') || 'none delegated'}`);
}

export function checkContainerd(version: CommandResult): CheckResult {
  return version.ok
    ? ok('containerd', versionLine(version))
    : warn('containerd', `${version.error}: vfs runs under containerd 1.6 or newer`);
}
