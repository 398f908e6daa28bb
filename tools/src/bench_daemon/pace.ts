// The front-end's pause between a reply and the slot's next request (--pace-us). A guest under TCG
// takes ≈ 250–300 µs to turn a reply into its next request; the daemon sleeps meanwhile. With
// --warmup 0 and one short round, a paced run reproduces on the host, without TCG's noise, the
// regime our daemon meets in a guest: most requests run before V8 has optimized their path.
import type { SlotStep } from './target';

/** Blocks the calling thread for `us` microseconds (a futex wait that no one wakes). */
export type Pause = (us: number) => void;

export function sleepPause(): Pause {
  const word = new Int32Array(new SharedArrayBuffer(4));
  return (us) => {
    Atomics.wait(word, 0, 0, us / 1000);
  };
}

/** `step`, pausing `paceUs` after each reply (written ≥ 0) before the slot's next request. */
export function pacedStep(step: SlotStep, paceUs: number, pause: Pause = sleepPause()): SlotStep {
  if (paceUs <= 0) return step;
  return (slot, written) => {
    if (written >= 0) pause(paceUs);
    return step(slot, written);
  };
}
