// prctl(PR_SET_NO_NEW_PRIVS), seccomp(2) and capset(2): the calls that take privileges away.
import koffi from 'koffi';
import { check, libc, lastErrno, SysError } from './libc';

const SYS_seccomp = 317;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_SET_KEEPCAPS = 8;
const PR_SET_DUMPABLE = 4;
const SECCOMP_SET_MODE_FILTER = 1;
/** Applies the filter to every thread of the process, not only the calling one. */
const SECCOMP_FILTER_FLAG_TSYNC = 1;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

const prctlFn = libc.func(
  'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
);
const seccompFn = libc.func('long syscall(long nr, unsigned int op, unsigned int flags, intptr_t args)');
const capgetFn = libc.func('int capget(void *header, void *data)');
const capsetFn = libc.func('int capset(const void *header, const void *data)');

export function setNoNewPrivs(): void {
  check(prctlFn(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 'prctl(PR_SET_NO_NEW_PRIVS)');
}

/**
 * Whether the calling thread keeps its permitted capabilities when its uids all leave 0 (a flag of
 * the thread's own, cleared by execve).
 */
export function setKeepCapabilities(keep: boolean): void {
  check(prctlFn(PR_SET_KEEPCAPS, keep ? 1 : 0, 0, 0, 0), `prctl(PR_SET_KEEPCAPS, ${keep ? 1 : 0})`);
}

/** Makes the process non-dumpable: no ptrace attach or /proc/PID reading without CAP_SYS_PTRACE. */
export function setNotDumpable(): void {
  check(prctlFn(PR_SET_DUMPABLE, 0, 0, 0, 0), 'prctl(PR_SET_DUMPABLE, 0)');
}

/** Installs a classic-BPF filter (8-byte sock_filter entries) on every thread. */
export function installSeccompFilter(program: Uint8Array): void {
  const count = program.byteLength / 8;
  const filterMem: unknown = koffi.alloc('uint8_t', program.byteLength);
  new Uint8Array(koffi.view(filterMem, program.byteLength)).set(program);
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  const fprog = Buffer.alloc(16);
  fprog.writeUInt16LE(count, 0);
  fprog.writeBigUInt64LE(BigInt(koffi.address(filterMem)), 8);
  const fprogMem: unknown = koffi.alloc('uint8_t', fprog.length);
  new Uint8Array(koffi.view(fprogMem, fprog.length)).set(fprog);
  try {
    const ret = Number(
      seccompFn(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, Number(koffi.address(fprogMem))),
    );
    if (ret < 0) throw new SysError(`seccomp(SET_MODE_FILTER, TSYNC, ${count} instructions)`, lastErrno());
    // With TSYNC a positive result is the id of a thread that could not be synchronised.
    if (ret > 0) throw new Error(`seccomp(SET_MODE_FILTER, TSYNC): thread ${ret} could not take the filter`);
  } finally {
    koffi.free(filterMem);
    koffi.free(fprogMem);
  }
}

/** Whether the calling thread has capability `cap` (a bit number) in its effective set. */
export function hasEffectiveCapability(cap: number): boolean {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  const data = Buffer.alloc(24);
  check(capgetFn(header, data), 'capget');
  return (data.readUInt32LE((cap >> 5) * 12) & (1 << (cap & 31))) !== 0;
}

/** Makes the calling thread's effective set its permitted set. */
export function raiseEffectiveCapabilities(): void {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  const data = Buffer.alloc(24);
  check(capgetFn(header, data), 'capget');
  for (const at of [0, 12]) data.writeUInt32LE(data.readUInt32LE(at + 4), at);
  check(capsetFn(header, data), 'capset(effective = permitted)');
}

/**
 * Limits the calling thread's effective and permitted sets to `caps` (bit numbers) and clears the
 * inheritable set. Capabilities the thread does not hold stay off: capset cannot add them.
 */
export function limitCapabilities(caps: readonly number[]): void {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  // struct __user_cap_data_struct[2] { u32 effective, permitted, inheritable; }: bits 0-31, 32-63.
  const data = Buffer.alloc(24);
  check(capgetFn(header, data), 'capget');
  const keep = [0, 0];
  for (const cap of caps) keep[cap >> 5] |= 1 << (cap & 31);
  for (const [word, mask] of keep.entries()) {
    const at = word * 12;
    data.writeUInt32LE((data.readUInt32LE(at) & mask) >>> 0, at);
    data.writeUInt32LE((data.readUInt32LE(at + 4) & mask) >>> 0, at + 4);
    data.writeUInt32LE(0, at + 8);
  }
  check(capsetFn(header, data), `capset(keep ${caps.join(',')})`);
}
