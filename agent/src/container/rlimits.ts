/** OCI rlimit types (RLIMIT_NOFILE…) to setrlimit resource numbers, and limit values. */
import type { OciRlimit } from '@vfs/contracts';
import { ContainerError } from './errors';

/** Index = resource number (asm-generic/resource.h). */
const RLIMIT_NAMES = [
  'CPU',
  'FSIZE',
  'DATA',
  'STACK',
  'CORE',
  'RSS',
  'NPROC',
  'NOFILE',
  'MEMLOCK',
  'AS',
  'LOCKS',
  'SIGPENDING',
  'MSGQUEUE',
  'NICE',
  'RTPRIO',
  'RTTIME',
] as const;

const RLIM_INFINITY = '18446744073709551615';

export interface ResolvedRlimit {
  readonly resource: number;
  readonly soft: string;
  readonly hard: string;
}

/** JSON's 2^64-1 arrives as the Number 2^64: both mean RLIM_INFINITY. */
function limitValue(value: number): string {
  return value >= 2 ** 64 - 1 ? RLIM_INFINITY : BigInt(value).toString();
}

export function resolveRlimit(rlimit: OciRlimit): ResolvedRlimit {
  const resource = RLIMIT_NAMES.indexOf(rlimit.type.replace(/^RLIMIT_/, '') as (typeof RLIMIT_NAMES)[number]);
  if (!rlimit.type.startsWith('RLIMIT_') || resource < 0) {
    throw new ContainerError('INVALID_SPEC', `unknown rlimit type "${rlimit.type}"`);
  }
  if (rlimit.soft > rlimit.hard) {
    throw new ContainerError(
      'INVALID_SPEC',
      `${rlimit.type}: soft limit ${rlimit.soft} exceeds hard limit ${rlimit.hard}`,
    );
  }
  return { resource, soft: limitValue(rlimit.soft), hard: limitValue(rlimit.hard) };
}
