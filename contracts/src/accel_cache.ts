// The accelerator verdict the shim caches once per host boot: whether a probe boot of the real
// guest under KVM powered off in time (shim/src/vm/accel.ts writes it; vfs-runtime check reads it).
// /dev/kvm existing is not enough on nested hosts, so only this verdict says KVM is usable.

/** A host fact, shared by every containerd and shim of the host; on tmpfs, so a reboot drops it. */
export const ACCEL_CACHE = '/run/vfs/accel.json';

export interface AccelVerdict {
  /** /proc/sys/kernel/random/boot_id of the boot that probed: another boot's verdict is stale. */
  readonly bootId: string;
  readonly accel: 'kvm' | 'tcg';
}

/** The verdict in the cache file's text, or undefined when it is not one (corrupt: probe again). */
export function parseAccelVerdict(text: string): AccelVerdict | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  return typeof v.bootId === 'string' && (v.accel === 'kvm' || v.accel === 'tcg')
    ? { bootId: v.bootId, accel: v.accel }
    : undefined;
}
