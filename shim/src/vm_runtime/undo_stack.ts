// Undo steps of a bring-up, run newest first: every step that makes something registers how to
// take it away, so a failure at any step, or the end of the sandbox, leaves nothing behind.
import type { ShimLogger } from '../logger';

export class UndoStack {
  private readonly steps: { what: string; run: () => Promise<void> }[] = [];

  constructor(private readonly log: ShimLogger) {}

  push(what: string, run: () => Promise<void>): void {
    this.steps.push({ what, run });
  }

  /** Runs every step; each failure is logged and returned, and the rest still run. */
  async runAll(): Promise<Error[]> {
    const failures: Error[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      const started = performance.now();
      try {
        await step.run();
        this.log.debug({ step: step.what, ms: Math.round(performance.now() - started) }, 'sandbox teardown step');
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        this.log.error({ step: step.what, err: error.message }, 'sandbox teardown step failed');
        failures.push(error);
      }
    }
    return failures;
  }

  /** Forgets every step: what they would undo now belongs to someone else (a pool VM handed over). */
  disown(): void {
    this.steps.splice(0);
  }
}
