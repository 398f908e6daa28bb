// The progress bar with an ETA on stderr (cli-progress): one step per job of a round. Off a
// terminal it prints a line every few seconds instead of redrawing.

import { MultiBar, Presets } from 'cli-progress';

export interface Progress {
  /** One job done; `what` names it and its figure. */
  step(what: string): void;
  /** Prints a line above the bar. */
  log(line: string): void;
  stop(): void;
}

export function progressBar(total: number): Progress {
  const bars = new MultiBar(
    {
      stream: process.stderr,
      format: 'coldstart {bar} {percentage}% | {value}/{total} jobs | ETA {eta_formatted} | {last}',
      etaBuffer: 20,
      noTTYOutput: !process.stderr.isTTY,
      notTTYSchedule: 5000,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  const bar = bars.create(total, 0, { last: '' });
  return {
    step: (what) => bar.increment(1, { last: what }),
    log: (line) => bars.log(`${line}\n`),
    stop: () => bars.stop(),
  };
}
