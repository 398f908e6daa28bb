// Kata's "tcfilter" model: per pod interface a tap in the same netns, and two tc ingress filters
// that redirect every frame from the interface to the tap and back. The VM's NIC is the tap's
// other end, so the guest sees the pod's link as it is; the netns stack, whose ingress the
// filters take, sees nothing. Each step that makes something carries the step that removes it.

import { randomBytes } from 'node:crypto';

export interface TapMirror {
  /** The pod's interface CNI made (a veth end). */
  readonly device: string;
  /** The tap beside it: the shim makes it and QEMU opens it by name, or QEMU makes it (hotplug). */
  readonly tap: string;
  readonly mtu: number;
}

export interface MirrorStep {
  readonly argv: readonly string[];
  /** Removes what argv made; what the kernel removes with an earlier undo has none. */
  readonly undo?: readonly string[];
}

/** Tap names stay within IFNAMSIZ (15 bytes) and name their owner. */
export function tapName(index: number): string {
  return `vfstap${index}`;
}

/**
 * A hot-plugged NIC's tap: QEMU makes it in its own netns, where other sandboxes' taps are too,
 * so the name is random ('vt' and 12 hex digits, 14 bytes).
 */
export function hotTapName(): string {
  return `vt${randomBytes(6).toString('hex')}`;
}

function redirect(from: string, to: string): string[] {
  return [
    'tc',
    'filter',
    'add',
    'dev',
    from,
    'parent',
    'ffff:',
    'protocol',
    'all',
    'u32',
    'match',
    'u8',
    '0',
    '0',
    'action',
    'mirred',
    'egress',
    'redirect',
    'dev',
    to,
  ];
}

/** Wires an existing tap to the interface: the steps after the tap is made (QEMU makes a hot-plugged one). */
export function connectSteps(mirror: TapMirror): MirrorStep[] {
  const { device, tap, mtu } = mirror;
  return [
    { argv: ['ip', 'link', 'set', 'dev', tap, 'mtu', String(mtu), 'up'] },
    { argv: ['tc', 'qdisc', 'add', 'dev', device, 'ingress'], undo: ['tc', 'qdisc', 'del', 'dev', device, 'ingress'] },
    { argv: redirect(device, tap) },
    // The tap's qdisc and filter go with the tap.
    { argv: ['tc', 'qdisc', 'add', 'dev', tap, 'ingress'] },
    { argv: redirect(tap, device) },
  ];
}

/** Makes the tap in the netns, then wires it (the cold path: QEMU opens the tap by name later). */
export function mirrorSteps(mirror: TapMirror): MirrorStep[] {
  const { tap } = mirror;
  return [
    { argv: ['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap'], undo: ['ip', 'link', 'del', 'dev', tap] },
    ...connectSteps(mirror),
  ];
}
