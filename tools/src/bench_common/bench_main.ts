// How a benchmark program runs: in a fresh temp work dir, registering a clean-up step for each
// thing it starts; the steps run newest first at the end, after a failure, or at once on SIGINT or
// SIGTERM, each tried even when another fails. After a signal the runs are left to fail (what they
// used is going) and whatever they still start is undone as they register it; the program exits
// once they have stopped (a second signal ends it at once). A failure is printed with what the
// program registered to explain it (a containerd log tail, say) while that still exists.
// Exit status 0, 1, or 130 after a signal.

import { mkdtempSync, rmSync } from 'node:fs';
import { errorMessage } from '@vfs/contracts';

export interface BenchScope {
  readonly work: string;
  /** A clean-up step, run at the end (newest first). */
  defer(what: string, step: () => unknown): void;
  /** Printed after a failure, before the clean-up. */
  explainFailure(explain: () => string): void;
}

export function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

interface Step {
  readonly what: string;
  readonly run: () => unknown;
}

/** Runs the steps newest first; false when one failed (each is reported). */
async function runSteps(name: string, steps: Step[]): Promise<boolean> {
  let ok = true;
  for (const step of steps.splice(0).reverse()) {
    try {
      await step.run();
    } catch (err) {
      ok = false;
      progress(`${name}: clean-up: ${step.what} failed: ${errorMessage(err)}`);
    }
  }
  return ok;
}

/** `workPrefix`: the temp dir's path prefix, e.g. /tmp/vfs-bench-pods- (tests look for leftovers by it). */
export function runBench(name: string, workPrefix: string, body: (scope: BenchScope) => Promise<void>): void {
  const work = mkdtempSync(workPrefix);
  const steps: Step[] = [{ what: `remove ${work}`, run: () => rmSync(work, { recursive: true, force: true }) }];
  const explainers: (() => string)[] = [];
  let cleaning: Promise<boolean> | undefined;
  /** Steps registered after the clean-up began, run as they come. */
  let late: Promise<boolean> = Promise.resolve(true);
  let interrupted = false;
  const cleanUp = (): Promise<boolean> => (cleaning ??= runSteps(name, steps));
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    progress(`${name}: ${signal}: cleaning up`);
    void cleanUp();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const scope: BenchScope = {
    work,
    defer: (what, run) => {
      if (cleaning === undefined) steps.push({ what, run });
      else late = late.then(async (ok) => (await runSteps(name, [{ what, run }])) && ok);
    },
    explainFailure: (explain) => explainers.push(explain),
  };
  body(scope)
    .then(
      () => true,
      (err: unknown) => {
        // What the clean-up pulled from under the runs is no news.
        if (interrupted) return false;
        progress(`${name} failed: ${errorMessage(err)}`);
        for (const explain of explainers) progress(explain());
        return false;
      },
    )
    .then(async (ran) => {
      const cleaned = (await cleanUp()) && (await late);
      process.exit(interrupted ? 130 : ran && cleaned ? 0 : 1);
    });
}
