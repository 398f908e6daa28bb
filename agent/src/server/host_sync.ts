/**
 * What a VM takes from the host at CreateSandbox, run by the launcher (launcher/host_sync.c) before
 * the share mounts, or for a VM whose shares were mounted ahead (the warm pool) first in its first
 * container's launch: the host's wall clock and random bytes for the kernel's generator. A VM
 * resumed from a template would otherwise keep the template's clock and its generator state, the
 * same in every copy; a booted VM's are merely refreshed.
 */
import { step, type PlanStep } from '../container/launch_plan';
import { invalid } from './call_errors';

/** launcher/host_sync.c's bound. */
const MAX_ENTROPY_BYTES = 256;

export function checkEntropy(entropy: Uint8Array): void {
  if (entropy.length > MAX_ENTROPY_BYTES)
    throw invalid(`entropy of ${entropy.length} bytes: at most ${MAX_ENTROPY_BYTES}`);
}

/**
 * The latest wall clock the guest kernel sets (its limit is year 2262, KTIME_SEC_MAX, less a
 * margin): refused at CreateSandbox, not at the container whose launch the setting may ride in.
 */
const MAX_HOST_TIME_MS = 9_000_000_000_000;

export function checkHostTime(hostTimeMs: number): void {
  if (!Number.isSafeInteger(hostTimeMs) || hostTimeMs < 0 || hostTimeMs > MAX_HOST_TIME_MS)
    throw invalid(`host time ${hostTimeMs} ms: a Unix time in ms up to ${MAX_HOST_TIME_MS}, or 0 for none`);
}

/** 0 and no bytes (an older shim): nothing to run. */
export function hostSyncSteps(hostTimeMs: number, entropy: Uint8Array): PlanStep[] {
  const steps: PlanStep[] = [];
  if (hostTimeMs > 0) steps.push(step('settime', hostTimeMs));
  if (entropy.length > 0) steps.push(step('reseed', Buffer.from(entropy).toString('hex')));
  return steps;
}
