// The workload's console lines (workload.c): `VFSBENCH <phase> <seconds> <amount> <unit>` per
// phase, `VFSBENCH-BEGIN` / `VFSBENCH-END` around them, `VFSBENCH-ERROR <what>` on a failure,
// `VFSBENCH-SKIP <phase> <unit> <why>` for a phase the mount cannot do; and init.sh's
// `VFSBENCH-MOUNT <type> <options>`, the share's line of the guest's /proc/mounts.

export interface PhaseResult {
  readonly phase: string;
  readonly seconds: number;
  readonly amount: number;
  /** bytes, ops, entries or files. */
  readonly unit: string;
  /** Why the mount could not do the phase (seconds and amount are then 0). */
  readonly skipped?: string;
}

export const BEGIN = 'VFSBENCH-BEGIN';
export const END = 'VFSBENCH-END';

const PHASE_LINE = /^VFSBENCH (\S+) (\d+(?:\.\d+)?) (\d+) (\S+)\r?$|^VFSBENCH-SKIP (\S+) (\S+) (.*?)\r?$/gm;
const ERROR_LINE = /^VFSBENCH-ERROR (.*)$/m;
/** Not anchored: init's first line follows SeaBIOS's "Booting from ROM.." on the same line. */
const MOUNT_LINE = /VFSBENCH-MOUNT (\S+) (\S+)\r?$/m;

export class GuestWorkloadError extends Error {}

/**
 * The phases of one complete run in the order they ran, skipped ones included (so a table keeps its
 * row order); throws GuestWorkloadError when the run failed or was cut short.
 */
export function parseGuestOutput(console: string): PhaseResult[] {
  const error = ERROR_LINE.exec(console);
  if (error !== null) throw new GuestWorkloadError(`the guest workload failed: ${error[1]}`);
  if (!console.includes(END)) throw new GuestWorkloadError('the guest workload did not finish');
  return [...console.matchAll(PHASE_LINE)].map((m) =>
    m[1] !== undefined
      ? { phase: m[1], seconds: Number(m[2]), amount: Number(m[3]), unit: m[4]! }
      : { phase: m[5]!, seconds: 0, amount: 0, unit: m[6]!, skipped: m[7]! },
  );
}

/** The share's mount options as the guest kernel shows them; null when init printed none. */
export function mountOptionsOf(console: string): string[] | null {
  const line = MOUNT_LINE.exec(console);
  return line === null ? null : line[2]!.split(',');
}

/** What a table shows for a phase: MB/s for bytes, else the unit per second. */
export function rateOf(p: PhaseResult): { rate: number; unit: string } {
  const seconds = Math.max(p.seconds, 1e-6);
  return p.unit === 'bytes'
    ? { rate: p.amount / 1e6 / seconds, unit: 'MB/s' }
    : { rate: p.amount / seconds, unit: `${p.unit}/s` };
}
