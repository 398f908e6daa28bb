/**
 * The container's device cgroup rules, built as runc builds them: default deny, then the spec's
 * linux.resources.devices, and runc's default list last (so that it wins: runc appends it after
 * the spec's rules). A linux.devices node gets no rule of its own: containerd, Docker and CRI send
 * one with the access they mean. Encoded for the launcher's `devices` step, which turns them into
 * the cgroup's BPF device program (launcher/devices.c).
 */
import type { OciDeviceRule, OciLinux } from '@vfs/contracts';

const RWM = 'rwm';

/** runc's AllowedDevices (libcontainer/specconv): mknod anything; use these. */
export const DEFAULT_DEVICE_RULES: readonly OciDeviceRule[] = [
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: RWM }, // null
  { allow: true, type: 'c', major: 1, minor: 8, access: RWM }, // random
  { allow: true, type: 'c', major: 1, minor: 7, access: RWM }, // full
  { allow: true, type: 'c', major: 5, minor: 0, access: RWM }, // tty
  { allow: true, type: 'c', major: 1, minor: 5, access: RWM }, // zero
  { allow: true, type: 'c', major: 1, minor: 9, access: RWM }, // urandom
  { allow: true, type: 'c', major: 136, access: RWM }, // the pts
  { allow: true, type: 'c', major: 5, minor: 2, access: RWM }, // ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: RWM }, // tun
];

export function deviceRules(linux: OciLinux | undefined): OciDeviceRule[] {
  return [...(linux?.resources?.devices ?? []), ...DEFAULT_DEVICE_RULES];
}

function number(value: number | undefined): string {
  return value === undefined || value === -1 ? '*' : String(value);
}

/**
 * "A:T:MAJ:MIN:ACC" per rule, joined by ','. A rule of type a (or none) is every device with
 * every access, whatever else it names, as runc reads it; an absent access is all of it.
 */
export function encodeDeviceRules(rules: readonly OciDeviceRule[]): string {
  return rules
    .map((r) =>
      r.type === undefined || r.type === 'a'
        ? `${r.allow ? 'y' : 'n'}:a:*:*:${RWM}`
        : `${r.allow ? 'y' : 'n'}:${r.type}:${number(r.major)}:${number(r.minor)}:${r.access ?? RWM}`,
    )
    .join(',');
}
