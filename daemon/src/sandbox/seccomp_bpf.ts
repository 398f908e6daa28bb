// The classic-BPF program of the seccomp allowlist: a foreign architecture or an x32 call gets
// the default action; a listed x86-64 call is allowed, allowed only when one argument passes a
// check, or failed with an errno without running; anything else gets the default action.
// The kernel caches the verdict of a call allowed by number alone, so the list's length costs
// nothing on the hot path; calls with an argument check run the program each time.

export const SECCOMP_RET_KILL_PROCESS = 0x8000_0000;
export const SECCOMP_RET_TRAP = 0x0003_0000;
export const SECCOMP_RET_ERRNO = 0x0005_0000;
export const SECCOMP_RET_LOG = 0x7ffc_0000;
export const SECCOMP_RET_ALLOW = 0x7fff_0000;

const AUDIT_ARCH_X86_64 = 0xc000_003e;
/** x32 calls share the x86-64 arch value and carry this bit in the number. */
const X32_SYSCALL_BIT = 0x4000_0000;
/** struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]; */
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARGS = 16;
const ARG_COUNT = 6;

const BPF_LD_W_ABS = 0x20;
const BPF_ALU_AND_K = 0x54;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGE_K = 0x35;
const BPF_RET_K = 0x06;
const SOCK_FILTER_SIZE = 8;
/** Conditional jumps are forward only and reach at most 255 instructions ahead. */
const MAX_JUMP = 255;

/**
 * What a listed call gets. `argument`: allowed when the low 32 bits of argument `arg`, ANDed with
 * `mask`, equal `value`, else the default action. Only the low half is read: it suits the
 * arguments the kernel itself reads as 32 bits (an int, a mode, clone's flags).
 */
export type CallRule =
  | { readonly kind: 'allow' }
  | { readonly kind: 'argument'; readonly arg: number; readonly mask: number; readonly value: number }
  | { readonly kind: 'errno'; readonly errno: number };

export interface ListedCall {
  readonly nr: number;
  readonly rule: CallRule;
}

interface Instruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

const stmt = (code: number, k: number): Instruction => ({ code, jt: 0, jf: 0, k });
const jump = (code: number, k: number, jt: number, jf: number): Instruction => {
  if (jt > MAX_JUMP || jf > MAX_JUMP)
    throw new RangeError(`seccomp program: a jump of ${Math.max(jt, jf)} > ${MAX_JUMP}`);
  return { code, jt, jf, k };
};

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

/** The instructions that decide a call whose number matched; empty for a plain allow. */
function ruleBlock(rule: CallRule, defaultAction: number): Instruction[] {
  switch (rule.kind) {
    case 'allow':
      return [];
    case 'errno':
      return [stmt(BPF_RET_K, SECCOMP_RET_ERRNO | (rule.errno & 0xffff))];
    case 'argument': {
      if (!Number.isInteger(rule.arg) || rule.arg < 0 || rule.arg >= ARG_COUNT)
        throw new RangeError(`seccomp argument check: no argument ${rule.arg}`);
      return [
        // Little-endian: the low half of args[arg] comes first.
        stmt(BPF_LD_W_ABS, OFFSET_ARGS + 8 * rule.arg),
        ...(rule.mask >>> 0 === 0xffff_ffff ? [] : [stmt(BPF_ALU_AND_K, rule.mask)]),
        jump(BPF_JMP_JEQ_K, rule.value, 0, 1),
        stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
        stmt(BPF_RET_K, defaultAction),
      ];
    }
  }
}

/** The filter for `calls`, answering every other call with `defaultAction`. */
export function allowlistProgram(calls: readonly ListedCall[], defaultAction: number): Uint8Array {
  const byNr = new Map(calls.map((c) => [c.nr, c.rule]));
  if (byNr.size !== calls.length) throw new RangeError('seccomp allowlist: a call is listed twice');
  if (byNr.size === 0) throw new RangeError('seccomp allowlist: no call listed');
  const listed = [...byNr.entries()].sort(([a], [b]) => a - b);
  const n = listed.length;
  const blocks = listed.map(([, rule]) => ruleBlock(rule, defaultAction));
  // [0] ld arch, [1] x86-64? skip [2], [2] ret default, [3] ld nr, [4] x32? to [5+n],
  // [5..4+n] listed? to [6+n] or to the call's block, [5+n] ret default, [6+n] ret allow,
  // [7+n..] the blocks of calls that are not simply allowed.
  const compares: Instruction[] = [];
  let blockAt = 7 + n;
  listed.forEach(([nr], i) => {
    const block = blocks[i] ?? [];
    const target = block.length === 0 ? 6 + n : blockAt;
    blockAt += block.length;
    compares.push(jump(BPF_JMP_JEQ_K, nr, target - (5 + i) - 1, 0));
  });
  return encode([
    stmt(BPF_LD_W_ABS, OFFSET_ARCH),
    jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    stmt(BPF_RET_K, defaultAction),
    stmt(BPF_LD_W_ABS, OFFSET_NR),
    jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, n, 0),
    ...compares,
    stmt(BPF_RET_K, defaultAction),
    stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
    ...blocks.flat(),
  ]);
}
