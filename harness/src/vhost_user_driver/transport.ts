// The contract between the vhost-user front-end driver (which plays QEMU: memfd RAM, vrings,
// kick/call) and the FUSE client (which plays the guest kernel: builds requests, parses replies).

/** virtio-fs queue indices: 0 is hiprio (FORGET, INTERRUPT), 1.. are request queues. */
export const HIPRIO_QUEUE = 0;
export const REQUEST_QUEUE = 1;

export interface Submission {
  /** Device-readable buffers, copied into guest RAM in order (the FUSE in-header, args, data). */
  readonly readable: readonly Uint8Array[];
  /** Total size of the device-writable space offered for the reply; 0 for no reply (FORGET). */
  readonly writableLen: number;
}

export interface VirtioFsTransport {
  /** Submits one chain on `queue`, kicks, and waits for it; returns the bytes the device wrote. */
  call(queue: number, sub: Submission, timeoutMs?: number): Uint8Array;
  /**
   * Keeps up to `depth` chains in flight on `queue`: `next()` gives the next submission (or null
   * when done) and `done(reply)` receives each reply in completion order.
   */
  pipeline(
    queue: number,
    depth: number,
    next: () => Submission | null,
    done: (reply: Uint8Array) => void,
    timeoutMs?: number,
  ): void;
}
