/** OCI capability names (CAP_CHOWN…) to the bit masks capset and prctl take. */
import type { OciCapabilities } from '@vfs/contracts';
import { ContainerError } from './errors';

/** Index = capability number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE (40). */
const CAPABILITY_NAMES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
] as const;

export interface CapabilityMasks {
  readonly bounding: bigint;
  readonly effective: bigint;
  readonly permitted: bigint;
  readonly inheritable: bigint;
  readonly ambient: bigint;
}

export function capabilityMask(names: readonly string[], where: string): bigint {
  let mask = 0n;
  for (const name of names) {
    const index = CAPABILITY_NAMES.indexOf(name.replace(/^CAP_/, '') as (typeof CAPABILITY_NAMES)[number]);
    if (!name.startsWith('CAP_') || index < 0) {
      throw new ContainerError('INVALID_SPEC', `unknown capability "${name}" in ${where}`);
    }
    mask |= 1n << BigInt(index);
  }
  return mask;
}

export function capabilityMasks(caps: OciCapabilities): CapabilityMasks {
  const mask = (list: readonly string[] | undefined, where: string): bigint => capabilityMask(list ?? [], where);
  return {
    bounding: mask(caps.bounding, 'bounding'),
    effective: mask(caps.effective, 'effective'),
    permitted: mask(caps.permitted, 'permitted'),
    inheritable: mask(caps.inheritable, 'inheritable'),
    ambient: mask(caps.ambient, 'ambient'),
  };
}

export function hexMask(mask: bigint): string {
  return mask.toString(16);
}
