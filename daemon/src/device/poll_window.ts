// Adaptive busy polling, as QEMU's event loop does it (aio-posix poll_ns / poll-max-ns): after a
// burst of requests the device loop watches the rings for a short window before it sleeps, which
// saves the guest its kick and us a wake-up when requests come back to back. The window grows
// while the next request tends to arrive within the limit and shrinks when it does not, so an idle
// or slow guest costs (almost) no spinning.

/** The longest window: beyond it, a wake-up costs less than the spinning. */
export const POLL_MAX_MS = 0.05;
const POLL_START_MS = 0.004;

export class PollWindow {
  /** Current window, ms; 0 = do not spin. */
  ms = POLL_START_MS;

  constructor(private readonly maxMs: number = POLL_MAX_MS) {}

  /** Feeds how long the loop waited for its next request (spinning included); adapts the window. */
  waited(ms: number): void {
    // Within the window: the sweet spot.
    if (ms <= this.ms) return;
    if (ms > this.maxMs) {
      // Spinning would have to last too long: spin less, and soon not at all.
      this.ms = this.ms / 2 < POLL_START_MS ? 0 : this.ms / 2;
    } else {
      this.ms = Math.min(this.maxMs, this.ms === 0 ? POLL_START_MS : this.ms * 2);
    }
  }
}
