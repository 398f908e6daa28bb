// One line of `vfs-runtime check`: a status, what was checked, and what was found. FAIL means a
// sandbox cannot start (or the feature named cannot work); warn means it starts, less well.

export type CheckStatus = 'ok' | 'warn' | 'FAIL';

export interface CheckResult {
  readonly status: CheckStatus;
  readonly what: string;
  readonly detail: string;
}

export const ok = (what: string, detail: string): CheckResult => ({ status: 'ok', what, detail });
export const warn = (what: string, detail: string): CheckResult => ({ status: 'warn', what, detail });
export const fail = (what: string, detail: string): CheckResult => ({ status: 'FAIL', what, detail });

export function failed(results: readonly CheckResult[]): number {
  return results.filter((r) => r.status === 'FAIL').length;
}

/** Aligned lines, then the verdict, as kata-runtime check ends with one. */
export function renderChecks(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.what.length));
  const lines = results.map((r) => `${r.status.padEnd(4)}  ${r.what.padEnd(width)}  ${r.detail}`);
  const failures = failed(results);
  const verdict =
    failures === 0
      ? 'This host can run vfs sandboxes.'
      : `This host cannot run vfs sandboxes: ${failures} check${failures === 1 ? '' : 's'} FAILed.`;
  return `${lines.join('\n')}\n${verdict}\n`;
}
