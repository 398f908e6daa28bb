// The allowlist program, run by a small classic-BPF interpreter over seccomp_data.
import { allowlistProgram, SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_LOG } from './seccomp_bpf';

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;

/** Runs `program` on { nr, arch } the way the kernel does for the opcodes the builder emits. */
function run(program: Uint8Array, nr: number, arch: number): number {
  const buf = Buffer.from(program);
  let acc = 0;
  for (let pc = 0; pc * 8 < buf.length; pc++) {
    const code = buf.readUInt16LE(pc * 8);
    const jt = buf.readUInt8(pc * 8 + 2);
    const jf = buf.readUInt8(pc * 8 + 3);
    const k = buf.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case 0x20:
        acc = k === 0 ? nr >>> 0 : arch >>> 0;
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

test('listed calls are allowed, others get the default action', () => {
  const prog = allowlistProgram([0, 1, 60, 435], SECCOMP_RET_KILL_PROCESS);
  for (const nr of [0, 1, 60, 435]) expect(run(prog, nr, AUDIT_ARCH_X86_64)).toBe(SECCOMP_RET_ALLOW);
  for (const nr of [2, 59, 61, 101, 434, 436])
    expect(run(prog, nr, AUDIT_ARCH_X86_64)).toBe(SECCOMP_RET_KILL_PROCESS >>> 0);
});

test('a foreign architecture and x32 calls get the default action even for listed numbers', () => {
  const prog = allowlistProgram([0, 1], SECCOMP_RET_LOG);
  expect(run(prog, 1, AUDIT_ARCH_I386)).toBe(SECCOMP_RET_LOG);
  expect(run(prog, 0x4000_0000 | 1, AUDIT_ARCH_X86_64)).toBe(SECCOMP_RET_LOG);
});

test('a long list keeps every jump in range', () => {
  const numbers = Array.from({ length: 250 }, (_, i) => i * 2);
  const prog = allowlistProgram(numbers, SECCOMP_RET_KILL_PROCESS);
  expect(run(prog, 0, AUDIT_ARCH_X86_64)).toBe(SECCOMP_RET_ALLOW);
  expect(run(prog, 498, AUDIT_ARCH_X86_64)).toBe(SECCOMP_RET_ALLOW);
  expect(run(prog, 499, AUDIT_ARCH_X86_64)).toBe(SECCOMP_RET_KILL_PROCESS >>> 0);
  expect(() => allowlistProgram([...numbers, 1], SECCOMP_RET_KILL_PROCESS)).toThrow(RangeError);
});
