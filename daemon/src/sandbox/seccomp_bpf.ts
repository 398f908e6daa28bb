// The classic-BPF program of the seccomp allowlist: a foreign architecture or an x32 call gets
// the default action, a listed x86-64 call is allowed, anything else gets the default action.
// The kernel caches the verdict of such a number-only filter per call, so its length costs
// nothing on the hot path.

export const SECCOMP_RET_KILL_PROCESS = 0x8000_0000;
export const SECCOMP_RET_TRAP = 0x0003_0000;
export const SECCOMP_RET_LOG = 0x7ffc_0000;
export const SECCOMP_RET_ALLOW = 0x7fff_0000;

const AUDIT_ARCH_X86_64 = 0xc000_003e;
/** x32 calls share the x86-64 arch value and carry this bit in the number. */
const X32_SYSCALL_BIT = 0x4000_0000;
/** struct seccomp_data: int nr; u32 arch; … */
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;

const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGE_K = 0x35;
const BPF_RET_K = 0x06;
const SOCK_FILTER_SIZE = 8;
/** Conditional jumps reach at most 255 instructions ahead. */
const MAX_LISTED = 250;

interface Instruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

const stmt = (code: number, k: number): Instruction => ({ code, jt: 0, jf: 0, k });
const jump = (code: number, k: number, jt: number, jf: number): Instruction => ({ code, jt, jf, k });

function encode(program: readonly Instruction[]): Uint8Array {
  const out = Buffer.alloc(program.length * SOCK_FILTER_SIZE);
  program.forEach((ins, i) => {
    const at = i * SOCK_FILTER_SIZE;
    out.writeUInt16LE(ins.code, at);
    out.writeUInt8(ins.jt, at + 2);
    out.writeUInt8(ins.jf, at + 3);
    out.writeUInt32LE(ins.k >>> 0, at + 4);
  });
  return out;
}

/** The filter allowing `numbers` and answering everything else with `defaultAction`. */
export function allowlistProgram(numbers: readonly number[], defaultAction: number): Uint8Array {
  const allowed = [...new Set(numbers)].sort((a, b) => a - b);
  if (allowed.length === 0 || allowed.length > MAX_LISTED) {
    throw new RangeError(`seccomp allowlist of ${allowed.length} calls: expected 1..${MAX_LISTED}`);
  }
  const n = allowed.length;
  // [0] ld arch, [1] x86-64? skip [2], [2] ret default, [3] ld nr, [4] x32? to [5+n],
  // [5..4+n] listed? to [6+n], [5+n] ret default, [6+n] ret allow.
  const program: Instruction[] = [
    stmt(BPF_LD_W_ABS, OFFSET_ARCH),
    jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    stmt(BPF_RET_K, defaultAction),
    stmt(BPF_LD_W_ABS, OFFSET_NR),
    jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, n, 0),
    ...allowed.map((nr, i) => jump(BPF_JMP_JEQ_K, nr, n - i, 0)),
    stmt(BPF_RET_K, defaultAction),
    stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
  ];
  return encode(program);
}
