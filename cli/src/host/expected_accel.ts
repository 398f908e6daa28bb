// Which accelerator the next sandbox gets, and why: the shim's choice (shim/src/vm/accel.ts)
// replayed from what it leaves behind, without a probe boot of our own. With accel = "auto" the
// shim uses KVM only when /dev/kvm opens and a probe boot under it powered off in time; it probes
// once per host boot and caches the verdict.
import type { VfsConfig } from '@vfs/runtime-config';
import { type Access, type AccelCache, KVM_DEVICE } from './host_probe';

export interface AccelInputs {
  readonly configured: VfsConfig['hypervisor']['accel'];
  readonly kvm: Access;
  readonly cache: AccelCache;
  readonly bootId: string;
}

export interface ExpectedAccel {
  /** `unprobed`: KVM if the first sandbox's probe boot succeeds, else TCG. */
  readonly accel: 'kvm' | 'tcg' | 'unprobed';
  readonly why: string;
}

/** How /dev/kvm (or another device) answered an open. */
export function describeDevice(path: string, access: Access): string {
  switch (access.state) {
    case 'ok':
      return `${path} exists and is openable`;
    case 'missing':
      return `${path} does not exist`;
    case 'denied':
      return `${path} exists but cannot be opened (${access.code})`;
  }
}

function fromCache(cache: AccelCache, bootId: string, kvm: string): ExpectedAccel {
  const unprobed = (why: string): ExpectedAccel => ({ accel: 'unprobed', why: `${why}; ${kvm}` });
  if (cache.state === 'absent') return unprobed('not probed yet (the first sandbox probes it)');
  if (cache.state === 'corrupt') return unprobed('the probe verdict is unreadable (the next sandbox probes again)');
  if (cache.verdict.bootId !== bootId)
    return unprobed('not probed since this host booted (the first sandbox probes it)');
  return cache.verdict.accel === 'kvm'
    ? { accel: 'kvm', why: 'a probe boot under KVM succeeded on this host boot' }
    : { accel: 'tcg', why: `${kvm}, but a probe boot under KVM did not power off in time (nested KVM?)` };
}

export function expectedAccel(inputs: AccelInputs): ExpectedAccel {
  if (inputs.configured !== 'auto')
    return { accel: inputs.configured, why: `accel = "${inputs.configured}" in the configuration` };
  const kvm = describeDevice(KVM_DEVICE, inputs.kvm);
  if (inputs.kvm.state !== 'ok') return { accel: 'tcg', why: kvm };
  return fromCache(inputs.cache, inputs.bootId, kvm);
}
