// How a benchmark program runs: in a fresh temp work dir, registering a clean-up step for each
// thing it starts; the steps run newest first at the end, after a failure and on SIGINT/SIGTERM,
// each tried even when another fails. A failure is printed with what the program registered to
// explain it (a containerd log tail, say) while that still exists. Exit status 0, 1 or 130.

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
  const cleanUp = (): Promise<boolean> => (cleaning ??= runSteps(name, steps));
  const interrupted = (signal: NodeJS.Signals): void => {
    progress(`${name}: ${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const scope: BenchScope = {
    work,
    defer: (what, run) => steps.push({ what, run }),
    explainFailure: (explain) => explainers.push(explain),
  };
  body(scope)
    .then(
      () => 0,
      (err: unknown) => {
        progress(`${name} failed: ${errorMessage(err)}`);
        for (const explain of explainers) progress(explain());
        return 1;
      },
    )
    .then(async (code) => ((await cleanUp()) ? code : 1))
    .then((code) => process.exit(code));
}
