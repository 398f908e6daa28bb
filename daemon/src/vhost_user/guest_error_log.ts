// A guest's virtqueue errors, logged at most BURST per WINDOW_MS: each malformed chain is one
// warning, and a hostile guest can make thousands a second, filling the host's disk through the
// daemon's stderr. The lines left out are counted in the next one logged. Past LIFETIME_LINES a
// connection gets one line per LATE_WINDOW_MS: at BURST a second for days, the log (on the host's
// /run) would still grow by hundreds of MiB.
import type { Logger } from '../log';
import type { VirtqueueError } from '../virtio/virtqueue_error';

export const WINDOW_MS = 1000;
export const BURST = 20;
export const LIFETIME_LINES = 1000;
export const LATE_WINDOW_MS = 60_000;

export class GuestErrorLog {
  private windowStart = Number.NEGATIVE_INFINITY;
  private logged = 0;
  private suppressed = 0;
  private total = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  warn(error: VirtqueueError): void {
    const t = this.now();
    const late = this.total >= LIFETIME_LINES;
    if (t - this.windowStart >= (late ? LATE_WINDOW_MS : WINDOW_MS)) {
      this.windowStart = t;
      this.logged = 0;
    }
    if (this.logged >= (late ? 1 : BURST)) {
      this.suppressed++;
      return;
    }
    this.logged++;
    this.total++;
    const fields = { queue: error.queue, kind: error.kind, head: error.head };
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.log.warn(suppressed === 0 ? fields : { ...fields, suppressed }, `guest error: ${error.message}`);
  }
}
