// Reading the host facts vfs depends on, each as a value a check or the env report turns into
// words: whether a device opens, a file is there, cgroup v2 is mounted, what the shim's KVM probe
// concluded for this boot.
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { type AccelVerdict, parseAccelVerdict } from '@vfs/contracts';

export const KVM_DEVICE = '/dev/kvm';
/** Present only on the unified (v2) hierarchy. */
export const CGROUP_CONTROLLERS = '/sys/fs/cgroup/cgroup.controllers';
const BOOT_ID = '/proc/sys/kernel/random/boot_id';

export type Access =
  | { readonly state: 'ok' }
  | { readonly state: 'missing' }
  | { readonly state: 'denied'; readonly code: string };

function accessError(err: unknown): Access {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return code === 'ENOENT' || code === 'ENOTDIR' ? { state: 'missing' } : { state: 'denied', code };
}

/** Whether the device opens read-write, as QEMU opens /dev/kvm. */
export function probeDevice(path: string): Access {
  try {
    closeSync(openSync(path, constants.O_RDWR));
    return { state: 'ok' };
  } catch (err) {
    return accessError(err);
  }
}

export function probeFile(path: string, use: 'read' | 'execute'): Access {
  try {
    accessSync(path, use === 'read' ? constants.R_OK : constants.X_OK);
    return { state: 'ok' };
  } catch (err) {
    return accessError(err);
  }
}

/** The controllers cgroup v2 offers, or undefined when the host is not on cgroup v2. */
export function cgroupControllers(path = CGROUP_CONTROLLERS): readonly string[] | undefined {
  try {
    return readFileSync(path, 'utf8')
      .split(/\s+/)
      .filter((c) => c !== '');
  } catch {
    return undefined;
  }
}

export function hostBootId(): string {
  return readFileSync(BOOT_ID, 'utf8').trim();
}

export type AccelCache =
  | { readonly state: 'absent' }
  | { readonly state: 'corrupt' }
  | { readonly state: 'verdict'; readonly verdict: AccelVerdict };

/** What the shim's accel cache (contracts ACCEL_CACHE) holds. */
export function readAccelCache(path: string): AccelCache {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { state: 'absent' };
  }
  const verdict = parseAccelVerdict(text);
  return verdict === undefined ? { state: 'corrupt' } : { state: 'verdict', verdict };
}
