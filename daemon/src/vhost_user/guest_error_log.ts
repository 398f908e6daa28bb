// A guest's virtqueue errors, logged at most BURST per WINDOW_MS: each malformed chain is one
// warning, and a hostile guest can make thousands a second, filling the host's disk through the
// daemon's stderr. The lines left out are counted in the next one logged.
import type { Logger } from '../log';
import type { VirtqueueError } from '../virtio/virtqueue_error';

export const WINDOW_MS = 1000;
export const BURST = 20;

export class GuestErrorLog {
  private windowStart = Number.NEGATIVE_INFINITY;
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  warn(error: VirtqueueError): void {
    const t = this.now();
    if (t - this.windowStart >= WINDOW_MS) {
      this.windowStart = t;
      this.logged = 0;
    }
    if (this.logged >= BURST) {
      this.suppressed++;
      return;
    }
    this.logged++;
    const fields = { queue: error.queue, kind: error.kind, head: error.head };
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.log.warn(suppressed === 0 ? fields : { ...fields, suppressed }, `guest error: ${error.message}`);
  }
}
