// The workload's console lines (workload.c): `VFSBENCH <phase> <seconds> <amount> <unit>` per
// phase, `VFSBENCH-BEGIN` / `VFSBENCH-END` around them, `VFSBENCH-ERROR <what>` on a failure.

export interface PhaseResult {
  readonly phase: string;
  readonly seconds: number;
  readonly amount: number;
  /** bytes, ops, entries or files. */
  readonly unit: string;
}

export const BEGIN = 'VFSBENCH-BEGIN';
export const END = 'VFSBENCH-END';

const PHASE_LINE = /^VFSBENCH (\S+) (\d+(?:\.\d+)?) (\d+) (\S+)\r?$/gm;
const ERROR_LINE = /^VFSBENCH-ERROR (.*)$/m;

export class GuestWorkloadError extends Error {}

/** The phases of one complete run; throws GuestWorkloadError when the run failed or was cut short. */
export function parseGuestOutput(console: string): PhaseResult[] {
  const error = ERROR_LINE.exec(console);
  if (error !== null) throw new GuestWorkloadError(`the guest workload failed: ${error[1]}`);
  if (!console.includes(END)) throw new GuestWorkloadError('the guest workload did not finish');
  return [...console.matchAll(PHASE_LINE)].map((m) => ({
    phase: m[1]!,
    seconds: Number(m[2]),
    amount: Number(m[3]),
    unit: m[4]!,
  }));
}

/** What a table shows for a phase: MB/s for bytes, else the unit per second. */
export function rateOf(p: PhaseResult): { rate: number; unit: string } {
  const seconds = Math.max(p.seconds, 1e-6);
  return p.unit === 'bytes'
    ? { rate: p.amount / 1e6 / seconds, unit: 'MB/s' }
    : { rate: p.amount / seconds, unit: `${p.unit}/s` };
}
