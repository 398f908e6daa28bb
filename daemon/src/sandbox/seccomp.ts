// The seccomp allowlist: installed with TSYNC on every thread the daemon has (V8's and libuv's
// included); threads started later inherit it.
import type { SeccompAction } from '../cli';
import { installSeccompFilter, setNoNewPrivs } from '../sys/security';
import { SYSCALL_ALLOWLIST, SYSCALL_RULES } from './syscall_allowlist';
import { SYSCALLS_X86_64 } from './syscalls_x86_64';
import {
  allowlistProgram,
  type CallRule,
  type ListedCall,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRAP,
} from './seccomp_bpf';
import { SandboxError } from './errors';

const ACTIONS: Record<Exclude<SeccompAction, 'none'>, number> = {
  kill: SECCOMP_RET_KILL_PROCESS,
  log: SECCOMP_RET_LOG,
  trap: SECCOMP_RET_TRAP,
};

function numberOf(name: string): number {
  const nr = SYSCALLS_X86_64[name];
  if (nr === undefined) throw new SandboxError(`seccomp allowlist: unknown x86-64 system call "${name}"`);
  return nr;
}

/** Every call the filter names: allowed outright or on a condition, or failed without running. */
export function listedCalls(): ListedCall[] {
  const allow: CallRule = { kind: 'allow' };
  return [
    ...SYSCALL_ALLOWLIST.map((name) => ({ nr: numberOf(name), rule: allow })),
    ...Object.entries(SYSCALL_RULES).map(([name, rule]) => ({ nr: numberOf(name), rule })),
  ];
}

/** Installs the filter; returns how many calls it lists. */
export function installSeccomp(action: Exclude<SeccompAction, 'none'>): number {
  if (process.arch !== 'x64')
    throw new SandboxError(
      `--seccomp=${action}: the allowlist is for x86-64, this is ${process.arch} (use --seccomp=none)`,
    );
  const calls = listedCalls();
  // Without CAP_SYS_ADMIN a filter may only be installed under no_new_privs.
  setNoNewPrivs();
  installSeccompFilter(allowlistProgram(calls, ACTIONS[action]));
  return calls.length;
}
