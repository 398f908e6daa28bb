// The allowlist program, run by a small classic-BPF interpreter over seccomp_data.
import {
  allowlistProgram,
  type CallRule,
  type ListedCall,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_LOG,
} from './seccomp_bpf';

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const KILL = SECCOMP_RET_KILL_PROCESS >>> 0;

/** struct seccomp_data for a call: nr, arch, a zero instruction pointer, 64-bit args. */
function seccompData(nr: number, arch: number, args: readonly bigint[]): Buffer {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  for (const [i, a] of args.entries()) data.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i);
  return data;
}

/** Runs `program` on a call the way the kernel does for the opcodes the builder emits. */
function run(program: Uint8Array, nr: number, arch = AUDIT_ARCH_X86_64, args: readonly bigint[] = []): number {
  const buf = Buffer.from(program);
  const data = seccompData(nr, arch, args);
  let acc = 0;
  for (let pc = 0; pc * 8 < buf.length; pc++) {
    const code = buf.readUInt16LE(pc * 8);
    const jt = buf.readUInt8(pc * 8 + 2);
    const jf = buf.readUInt8(pc * 8 + 3);
    const k = buf.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case 0x20:
        acc = data.readUInt32LE(k);
        break;
      case 0x54:
        acc = (acc & k) >>> 0;
        break;
      case 0x15:
        pc += acc === k ? jt : jf;
        break;
      case 0x35:
        pc += acc >= k ? jt : jf;
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('program ran off its end');
}

const allow: CallRule = { kind: 'allow' };
const allowed = (numbers: readonly number[]): ListedCall[] => numbers.map((nr) => ({ nr, rule: allow }));

test('listed calls are allowed, others get the default action', () => {
  const prog = allowlistProgram(allowed([0, 1, 60, 435]), SECCOMP_RET_KILL_PROCESS);
  for (const nr of [0, 1, 60, 435]) expect(run(prog, nr)).toBe(SECCOMP_RET_ALLOW);
  for (const nr of [2, 59, 61, 101, 434, 436]) expect(run(prog, nr)).toBe(KILL);
});

test('a foreign architecture and x32 calls get the default action even for listed numbers', () => {
  const prog = allowlistProgram(allowed([0, 1]), SECCOMP_RET_LOG);
  expect(run(prog, 1, AUDIT_ARCH_I386)).toBe(SECCOMP_RET_LOG);
  expect(run(prog, 0x4000_0000 | 1)).toBe(SECCOMP_RET_LOG);
});

test('a long list keeps every jump in range, and a list too long for one is refused', () => {
  const numbers = Array.from({ length: 255 }, (_, i) => i * 2);
  const prog = allowlistProgram(allowed(numbers), SECCOMP_RET_KILL_PROCESS);
  expect(run(prog, 0)).toBe(SECCOMP_RET_ALLOW);
  expect(run(prog, 508)).toBe(SECCOMP_RET_ALLOW);
  expect(run(prog, 509)).toBe(KILL);
  expect(() => allowlistProgram(allowed([...numbers, 1]), SECCOMP_RET_KILL_PROCESS)).toThrow(RangeError);
});

test('a call listed twice or no call at all is refused', () => {
  expect(() => allowlistProgram(allowed([1, 1]), SECCOMP_RET_KILL_PROCESS)).toThrow(RangeError);
  expect(() => allowlistProgram([], SECCOMP_RET_KILL_PROCESS)).toThrow(RangeError);
});

describe('argument checks', () => {
  const FLAGS = 0x3d0f00;
  const calls: ListedCall[] = [
    ...allowed([0, 1, 300]),
    { nr: 56, rule: { kind: 'argument', arg: 0, mask: ~FLAGS, value: 0 } },
    { nr: 41, rule: { kind: 'argument', arg: 0, mask: 0xffff_ffff, value: 1 } },
    { nr: 133, rule: { kind: 'argument', arg: 2, mask: 0xf000, value: 0x8000 } },
    { nr: 435, rule: { kind: 'errno', errno: 38 } },
  ];
  const prog = allowlistProgram(calls, SECCOMP_RET_KILL_PROCESS);

  test('masked bits of an argument must be clear: set bits get the default action', () => {
    expect(run(prog, 56, AUDIT_ARCH_X86_64, [BigInt(FLAGS)])).toBe(SECCOMP_RET_ALLOW);
    expect(run(prog, 56, AUDIT_ARCH_X86_64, [0x100n])).toBe(SECCOMP_RET_ALLOW);
    expect(run(prog, 56, AUDIT_ARCH_X86_64, [BigInt(FLAGS | 0x1000_0000)])).toBe(KILL);
    expect(run(prog, 56, AUDIT_ARCH_X86_64, [BigInt(FLAGS | 17)])).toBe(KILL);
  });

  test('an argument must equal the value under the mask, whichever argument it is', () => {
    expect(run(prog, 41, AUDIT_ARCH_X86_64, [1n, 1n])).toBe(SECCOMP_RET_ALLOW);
    for (const family of [0n, 2n, 10n, 16n, 17n]) expect(run(prog, 41, AUDIT_ARCH_X86_64, [family])).toBe(KILL);
    expect(run(prog, 133, AUDIT_ARCH_X86_64, [0n, 0n, 0o100644n])).toBe(SECCOMP_RET_ALLOW);
    expect(run(prog, 133, AUDIT_ARCH_X86_64, [0o100644n, 0n, 0o020644n])).toBe(KILL);
  });

  test('only the low 32 bits are compared, as the kernel reads these arguments', () => {
    expect(run(prog, 41, AUDIT_ARCH_X86_64, [(1n << 32n) | 1n])).toBe(SECCOMP_RET_ALLOW);
  });

  test('an errno rule fails the call without running it, whatever its arguments', () => {
    expect(run(prog, 435, AUDIT_ARCH_X86_64, [0n])).toBe((SECCOMP_RET_ERRNO | 38) >>> 0);
  });

  test('plainly listed calls around the checked ones are still allowed', () => {
    for (const nr of [0, 1, 300]) expect(run(prog, nr)).toBe(SECCOMP_RET_ALLOW);
    for (const nr of [2, 55, 57, 434, 436]) expect(run(prog, nr)).toBe(KILL);
  });

  test('an argument index outside seccomp_data is refused', () => {
    expect(() =>
      allowlistProgram([{ nr: 1, rule: { kind: 'argument', arg: 6, mask: 1, value: 0 } }], SECCOMP_RET_KILL_PROCESS),
    ).toThrow(RangeError);
  });
});
