// The daemon's way out: every stop runs to its end, and a failed one is logged and turns the exit
// code into 1, so a supervisor sees that cleanup went wrong.
import type { Logger } from './log';

export function stopThenExit(
  stops: readonly unknown[],
  code: number,
  log: Logger,
  exit: (code: number) => void,
): Promise<void> {
  return Promise.allSettled(stops).then((results) => {
    let failed = false;
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      failed = true;
      log.error({ err: r.reason }, 'shutdown step failed');
    }
    exit(failed ? 1 : code);
  });
}
