// What a guest got wrong in a virtqueue. The queue reports it and keeps going (virtqueue.ts); the
// message says what was wrong and what the queue did about it, the fields say where.

export type VirtqueueErrorKind =
  /** A ring address the split-ring layout does not allow (start refuses the queue). */
  | 'misaligned-ring'
  /** avail.idx ran more than a ring ahead: nothing in the ring can be trusted (queue stopped). */
  | 'avail-index-overrun'
  /** A head index outside the queue (skipped: it has no used entry to answer with). */
  | 'head-out-of-range'
  /** A head the device still holds (skipped: its used entry is the handler's). */
  | 'head-in-flight'
  // The rest are malformed chains, answered with a zero-length used entry.
  | 'descriptor-out-of-range'
  | 'descriptor-loop'
  | 'indirect-not-negotiated'
  | 'nested-indirect'
  | 'indirect-with-next'
  | 'indirect-bad-size'
  | 'indirect-outside-memory'
  | 'buffer-outside-memory'
  | 'readable-after-writable';

export class VirtqueueError extends Error {
  constructor(
    readonly kind: VirtqueueErrorKind,
    /** The queue's index (0 = hiprio, then the request queues). */
    readonly queue: number,
    message: string,
    /** The head descriptor of the chain at fault, when there is one. */
    readonly head?: number,
  ) {
    super(message);
    this.name = 'VirtqueueError';
  }
}
