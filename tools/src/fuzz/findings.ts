// What the fuzzer reports: findings with the seed and case range that reproduce them, and the
// run's totals.

export type FindingKind = 'crash' | 'hang' | 'resource' | 'escape' | 'bad-reply' | 'internal-error' | 'driver-error';

export interface Finding {
  readonly kind: FindingKind;
  readonly seed: number;
  /** The first case the daemon saw since it started (reproduce from here, on a fresh daemon). */
  readonly sessionStart: number;
  /** The batch (or single case) in which it showed. */
  readonly firstCase: number;
  readonly lastCase: number;
  /** The operations of those cases, in order. */
  readonly ops: string;
  readonly detail: string;
  /** The command that replays it. */
  readonly reproduce: string;
}

export interface FuzzReport {
  readonly seed: number;
  readonly start: number;
  readonly cases: number;
  readonly fuseCases: number;
  readonly vhostCases: number;
  readonly elapsedMs: number;
  readonly casesPerSec: number;
  readonly daemonStarts: number;
  readonly crashes: number;
  readonly hangs: number;
  /** Findings by kind, all of them counted. */
  readonly counts: Record<FindingKind, number>;
  /** The first findings of each kind, with their reproducers. */
  readonly findings: readonly Finding[];
  readonly peakRssMib: number;
  readonly peakFds: number;
}

/** At most this many findings of one kind are kept in full; the rest are counted. */
export const KEPT_PER_KIND = 20;

export function reproduceCommand(seed: number, sessionStart: number, lastCase: number, extra: string): string {
  const args = `--seed ${seed} --start ${sessionStart} --cases ${lastCase + 1 - sessionStart}${extra}`;
  return `make fuzz ARGS="${args}"`;
}

export function formatReport(r: FuzzReport): string {
  const lines = [
    `seed ${r.seed}, cases ${r.start}..${r.start + r.cases - 1}: ${r.cases} cases (${r.fuseCases} FUSE, ${r.vhostCases} vhost-user) in ${(r.elapsedMs / 1000).toFixed(1)} s = ${r.casesPerSec.toFixed(0)} cases/s`,
    `daemon starts ${r.daemonStarts}, crashes ${r.crashes}, hangs ${r.hangs}, peak RSS ${r.peakRssMib.toFixed(0)} MiB, peak fds ${r.peakFds}`,
    `findings: ${Object.entries(r.counts)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  ];
  for (const f of r.findings) {
    lines.push(
      '',
      `[${f.kind}] cases ${f.firstCase}..${f.lastCase} (daemon from case ${f.sessionStart})`,
      `  ${f.detail.split('\n').join('\n  ')}`,
      `  ops: ${f.ops}`,
      `  reproduce: ${f.reproduce}`,
    );
  }
  return lines.join('\n');
}
