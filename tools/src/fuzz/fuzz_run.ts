// The fuzzing loop. Cases are numbered; case i is generated from (seed, i) and the pool of ids the
// daemon's session handed out before i's batch, so a run from a fresh daemon at case K replays
// cases K.. exactly (batches start at K). After each batch the oracles run: the daemon is alive,
// every request was answered within the hang timeout, its RSS and fd count are within bounds,
// and nothing outside the share changed. A crash or hang is recorded with the command that
// replays it, then the daemon is restarted on a fresh share and the run goes on.
import { type FuseCase, fuseCase } from './fuse_cases';
import { FuseBatch, HangError, type Violation } from './fuse_batch';
import { opName } from './fuse_ops';
import { Noise } from './fuse_values';
import type { FuzzArgs } from './fuzz_args';
import { FuzzDaemon } from './fuzz_daemon';
import { FuzzSession } from './fuzz_session';
import { FuzzTree, snapshotDiff } from './fuzz_tree';
import { type Finding, type FindingKind, type FuzzReport, KEPT_PER_KIND, reproduceCommand } from './findings';
import { Rng, caseRng } from './prng';
import { runVhostCase, vhostCaseKind } from './vhost_cases';

/** The parsed command line, with the daemon resolved to its script. */
export interface FuzzOptions extends Omit<FuzzArgs, 'daemon' | 'json'> {
  /** The bundled vfs-virtiofsd. */
  readonly daemonScript: string;
  /** Options to repeat in reproducing commands (those that change what the cases are). */
  readonly reproduceExtra: string;
  readonly onProgress?: (line: string) => void;
  /** Asked between batches: true ends the run early (SIGINT). */
  readonly shouldStop?: () => boolean;
}

const PROGRESS_MS = 5000;
const MiB = 1 << 20;
/**
 * What the daemon logs for a fault of its own, which it survives by answering EIO or nothing: a
 * bug all the same. (Refused vhost-user requests and dropped connections are logged too; those
 * are the daemon doing its job.)
 */
const INTERNAL_FAULTS = [
  'FUSE request failed',
  'cannot write the EIO reply',
  'chain handler threw',
  'impossible length',
  'device worker failed',
  'queue that does not exist',
];
const NOISE_SEED = 0x5eed;

/** Lets the child-exit event and signals through between batches. */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const tree = FuzzTree.create();
  const run = new FuzzRun(o, tree);
  const lastResort = (): void => {
    run.kill();
    tree.remove();
  };
  process.on('exit', lastResort);
  try {
    return await run.loop();
  } finally {
    await run.stop();
    tree.remove();
    process.off('exit', lastResort);
  }
}

class FuzzRun {
  private daemon: FuzzDaemon | null = null;
  private readonly session: FuzzSession;
  private readonly noise = new Noise(new Rng(NOISE_SEED));
  private baseline = '';
  private sessionStart = 0;
  private readonly findings: Finding[] = [];
  private readonly counts: Record<FindingKind, number> = {
    crash: 0,
    hang: 0,
    resource: 0,
    escape: 0,
    'bad-reply': 0,
    'internal-error': 0,
    'driver-error': 0,
  };
  private fuseCases = 0;
  private vhostCases = 0;
  private daemonStarts = 0;
  private peakRssKib = 0;
  private peakFds = 0;
  /** The operations of the batch being run, for findings. */
  private ops: string[] = [];

  constructor(
    private readonly o: FuzzOptions,
    private readonly tree: FuzzTree,
  ) {
    this.session = new FuzzSession(tree.socketPath, o.hangMs, o.daxMib * MiB);
  }

  async loop(): Promise<FuzzReport> {
    const t0 = Date.now();
    const end = this.o.start + this.o.cases;
    let next = this.o.start;
    let lastProgress = t0;
    await this.startDaemon(next);
    while (next < end && Date.now() - t0 < this.o.durationMs && !(this.o.shouldStop?.() ?? false)) {
      const count = Math.min(this.o.batch, end - next);
      await this.batch(next, count);
      next += count;
      await breathe();
      if (Date.now() - lastProgress >= PROGRESS_MS) {
        lastProgress = Date.now();
        this.o.onProgress?.(this.progressLine(next - this.o.start, Date.now() - t0));
      }
    }
    const elapsedMs = Date.now() - t0;
    const cases = next - this.o.start;
    return {
      seed: this.o.seed,
      start: this.o.start,
      cases,
      fuseCases: this.fuseCases,
      vhostCases: this.vhostCases,
      elapsedMs,
      casesPerSec: cases / (elapsedMs / 1000),
      daemonStarts: this.daemonStarts,
      crashes: this.counts.crash,
      hangs: this.counts.hang,
      counts: { ...this.counts },
      findings: [...this.findings],
      peakRssMib: this.peakRssKib / 1024,
      peakFds: this.peakFds,
    };
  }

  private progressLine(cases: number, ms: number): string {
    const found = Object.entries(this.counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    return `${cases} cases, ${((cases * 1000) / ms).toFixed(0)} cases/s, findings: ${found || 'none'}, peak RSS ${(this.peakRssKib / 1024).toFixed(0)} MiB, peak fds ${this.peakFds}`;
  }

  /** Runs cases [first, first+count) and the oracles; on a failure records it and restarts the daemon. */
  private async batch(first: number, count: number): Promise<void> {
    this.ops = [];
    try {
      this.runCases(first, count);
    } catch (err) {
      await this.failed(first, first + count - 1, err);
      return;
    }
    await this.checkOracles(first, first + count - 1);
  }

  private runCases(first: number, count: number): void {
    const pending: FuseCase[] = [];
    let reinit = false;
    const flush = (): void => {
      if (pending.length > 0) {
        const batch = new FuseBatch(this.session.frontend, this.session.pool, this.o.depth, this.o.hangMs);
        try {
          batch.run(pending);
        } finally {
          this.violations(batch.violations);
        }
        pending.length = 0;
      }
      // A DESTROY or fuzzed INIT in the batch: start a clean FUSE session for the next one.
      if (reinit) this.session.init();
      reinit = false;
    };
    for (let i = first; i < first + count; i++) {
      const rng = caseRng(this.o.seed, i);
      if (rng.chance(this.o.vhostRate)) {
        flush();
        const kind = vhostCaseKind(rng);
        this.ops.push(`${i}:vhost-${kind}`);
        this.vhostCases++;
        // A new VMM, a new guest: the share starts over too, so a long run does not wear it into
        // one shape (full, every name a directory).
        if (kind === 'new-frontend') {
          this.session.close();
          this.tree.resetShare();
        }
        runVhostCase(kind, rng, this.session, this.noise, this.tree.socketPath);
        continue;
      }
      const c = fuseCase(rng, i, { pool: this.session.pool, noise: this.noise, recentUnique: BigInt(i) });
      this.ops.push(opName(c.opcode));
      this.fuseCases++;
      pending.push(c);
      reinit ||= c.resetsSession;
    }
    flush();
  }

  private violations(list: readonly Violation[]): void {
    for (const v of list) {
      const c = v.fuseCase;
      const layout = `readable [${c.readable.map((r) => r.length)}], writable [${c.writable}]`;
      this.record(
        'bad-reply',
        c.index,
        c.index,
        `${opName(c.opcode)} (unique ${c.unique}, ${layout}): ${v.detail}`,
        opName(c.opcode),
      );
    }
  }

  private async checkOracles(first: number, last: number): Promise<void> {
    const d = this.daemon!;
    if (!d.alive) {
      await this.failed(first, last, new Error('the daemon exited after answering the batch'));
      return;
    }
    const faults = d
      .newLog()
      .split('\n')
      .filter((line) => INTERNAL_FAULTS.some((f) => line.includes(f)));
    if (faults.length > 0) this.record('internal-error', first, last, faults.slice(0, 3).join('\n'));
    const use = d.usage();
    this.peakRssKib = Math.max(this.peakRssKib, use.rssKib);
    this.peakFds = Math.max(this.peakFds, use.fds);
    const now = this.tree.snapshot();
    if (now !== this.baseline) {
      this.record('escape', first, last, `outside the share changed:\n${snapshotDiff(this.baseline, now)}`);
      this.tree.populateSentinel();
      this.baseline = this.tree.snapshot();
    }
    const overRss = use.rssKib > this.o.maxRssMib * 1024;
    if (overRss || use.fds > this.o.maxFds) {
      this.record(
        'resource',
        first,
        last,
        `RSS ${(use.rssKib / 1024).toFixed(0)} MiB (bound ${this.o.maxRssMib}), fds ${use.fds} (bound ${this.o.maxFds})`,
      );
      await this.restart(last + 1);
    }
  }

  /** Classifies a failed batch (crash, hang, driver error), records it and restarts the daemon. */
  private async failed(first: number, last: number, err: unknown): Promise<void> {
    const exit = await this.daemon!.waitExit(500);
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    if (exit !== null) {
      this.record('crash', first, last, `daemon exited (${exit}) during: ${message}\n${this.daemon!.logTail()}`);
    } else if (err instanceof HangError || (err instanceof Error && err.name === 'TransportTimeoutError')) {
      const waiting =
        err instanceof HangError ? ` waiting: ${err.cases.map((c) => `${c.index}:${opName(c.opcode)}`).join(' ')}` : '';
      this.record('hang', first, last, `${message}${waiting}`);
    } else {
      this.record('driver-error', first, last, `${message}\n${this.daemon!.logTail(5)}`);
    }
    await this.restart(last + 1);
  }

  private record(kind: FindingKind, first: number, last: number, detail: string, ops = this.ops.join(' ')): void {
    this.counts[kind]++;
    if (this.findings.filter((f) => f.kind === kind).length >= KEPT_PER_KIND) return;
    const reproduce = reproduceCommand(this.o.seed, this.sessionStart, last, this.o.reproduceExtra);
    this.findings.push({
      kind,
      seed: this.o.seed,
      sessionStart: this.sessionStart,
      firstCase: first,
      lastCase: last,
      ops,
      detail,
      reproduce,
    });
  }

  private async restart(nextCase: number): Promise<void> {
    await this.stop();
    await this.startDaemon(nextCase);
  }

  /** A fresh share, a daemon on it and a connected, initialised session; the baseline snapshot. */
  private async startDaemon(nextCase: number): Promise<void> {
    this.tree.resetShare();
    this.daemon = FuzzDaemon.start({
      script: this.o.daemonScript,
      socketPath: this.tree.socketPath,
      sharedDir: this.tree.share,
      logPath: this.tree.logPath,
      extraArgs: [...(this.o.daxMib > 0 ? [`--dax-window=${this.o.daxMib}`] : []), ...this.o.daemonArgs],
    });
    this.daemonStarts++;
    this.sessionStart = nextCase;
    try {
      this.session.connect({}, 15_000);
    } catch (err) {
      const exit = await this.daemon.waitExit(500);
      throw new Error(`the daemon did not start (${exit ?? 'still running'}): ${err}\n${this.daemon.logTail()}`);
    }
    this.baseline = this.tree.snapshot();
  }

  async stop(): Promise<void> {
    this.session.close();
    await this.daemon?.stop();
    this.daemon = null;
  }

  kill(): void {
    this.daemon?.kill();
  }
}
