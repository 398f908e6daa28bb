// After the sandbox is built the daemon keeps only the capabilities a passthrough file system
// needs, the set virtiofsd keeps: ownership and mode changes on behalf of the guest, setfsuid /
// setfsgid per request, mknod (overlayfs whiteouts are 0:0 character devices), and, as virtiofsd
// does only then, opening file handles while inodes are held by them (--inode-file-handles).
// These are the main thread's, which serves; Node's other threads hold none (other_threads.ts).
import { hasEffectiveCapability, limitCapabilities } from '../sys/security';
import { SandboxError } from './errors';

const CAP_CHOWN = 0;
const CAP_DAC_OVERRIDE = 1;
/** open_by_handle_at(2) needs it. */
const CAP_DAC_READ_SEARCH = 2;
const CAP_FOWNER = 3;
const CAP_FSETID = 4;
const CAP_SETGID = 6;
const CAP_SETUID = 7;
const CAP_MKNOD = 27;
const CAP_SETFCAP = 31;

export const KEPT_CAPABILITIES: readonly number[] = [
  CAP_CHOWN,
  CAP_DAC_OVERRIDE,
  CAP_FOWNER,
  CAP_FSETID,
  CAP_SETGID,
  CAP_SETUID,
  CAP_MKNOD,
  CAP_SETFCAP,
];

/** Linux's capabilities by number, as capabilities(7) names them less their `CAP_`. */
const CAPABILITY_NAMES = [
  'chown',
  'dac_override',
  'dac_read_search',
  'fowner',
  'fsetid',
  'kill',
  'setgid',
  'setuid',
  'setpcap',
  'linux_immutable',
  'net_bind_service',
  'net_broadcast',
  'net_admin',
  'net_raw',
  'ipc_lock',
  'ipc_owner',
  'sys_module',
  'sys_rawio',
  'sys_chroot',
  'sys_ptrace',
  'sys_pacct',
  'sys_admin',
  'sys_boot',
  'sys_nice',
  'sys_resource',
  'sys_time',
  'sys_tty_config',
  'mknod',
  'lease',
  'audit_write',
  'audit_control',
  'setfcap',
  'mac_override',
  'mac_admin',
  'syslog',
  'wake_alarm',
  'block_suspend',
  'audit_read',
  'perfmon',
  'bpf',
  'checkpoint_restore',
];

/** virtiofsd's --modcaps: capabilities added to or removed from the set the daemon keeps. */
export interface CapabilityChanges {
  readonly add: readonly number[];
  readonly remove: readonly number[];
}

export const NO_CAPABILITY_CHANGES: CapabilityChanges = { add: [], remove: [] };

/**
 * Without these the per-request switch to the guest's ids (setfsuid/setfsgid) fails, and the daemon
 * would act for every guest user as root.
 */
const NOT_REMOVABLE = new Set([CAP_SETGID, CAP_SETUID]);

/**
 * `+sys_admin:-chown`: a colon-separated list, each name (`sys_admin`, any case; `cap_sys_admin`
 * too, which virtiofsd refuses) after + or -, a later entry for the same capability winning. Throws
 * a RangeError naming the entry that is not one, or a capability the daemon cannot do without.
 */
export function parseModcaps(list: string): CapabilityChanges {
  const changes = new Map<number, '+' | '-'>();
  for (const entry of list.split(':')) {
    const sign = entry[0];
    const name = entry.slice(1).toLowerCase().replace(/^cap_/, '');
    const cap = CAPABILITY_NAMES.indexOf(name);
    if ((sign !== '+' && sign !== '-') || cap < 0) {
      throw new RangeError(`'${entry}' is not + or - and a capability name (e.g. +sys_admin:-chown)`);
    }
    if (sign === '-' && NOT_REMOVABLE.has(cap)) {
      throw new RangeError(
        `'${entry}': the daemon takes on each guest user's ids with it, and without it would act as root`,
      );
    }
    changes.delete(cap);
    changes.set(cap, sign);
  }
  const of = (sign: '+' | '-'): number[] => [...changes].filter(([, s]) => s === sign).map(([cap]) => cap);
  return { add: of('+'), remove: of('-') };
}

/** Whether the changes take CAP_DAC_READ_SEARCH, which opening file handles needs. */
export function removesFileHandleCapability(changes: CapabilityChanges): boolean {
  return changes.remove.includes(CAP_DAC_READ_SEARCH);
}

export function capabilityName(cap: number): string {
  return `CAP_${(CAPABILITY_NAMES[cap] ?? String(cap)).toUpperCase()}`;
}

/**
 * The set kept; CAP_DAC_READ_SEARCH only with file handles in use: with it and any fd on a mount,
 * open_by_handle_at reaches every inode of that file system, not only those below the share. Then
 * --modcaps's changes, removals last.
 */
export function keptCapabilities(
  fileHandles: boolean,
  changes: CapabilityChanges = NO_CAPABILITY_CHANGES,
): readonly number[] {
  const kept = new Set(fileHandles ? [...KEPT_CAPABILITIES, CAP_DAC_READ_SEARCH] : KEPT_CAPABILITIES);
  for (const cap of changes.add) kept.add(cap);
  for (const cap of changes.remove) kept.delete(cap);
  return [...kept].sort((a, b) => a - b);
}

/** Limits the set; a capability --modcaps adds that the daemon does not hold is an error, as in virtiofsd. */
export function dropCapabilities(fileHandles: boolean, changes: CapabilityChanges): void {
  limitCapabilities(keptCapabilities(fileHandles, changes));
  const missing = changes.add.filter((cap) => !hasEffectiveCapability(cap));
  if (missing.length > 0) {
    throw new SandboxError(`--modcaps: the daemon does not hold ${missing.map(capabilityName).join(', ')} to keep`);
  }
}

/** Whether this thread may open file handles: with fsuid 0, CAP_DAC_READ_SEARCH is effective. */
export function canOpenFileHandles(): boolean {
  return hasEffectiveCapability(CAP_DAC_READ_SEARCH);
}
