// The contract between the virtqueue (which walks descriptors in guest memory) and the device
// logic that consumes them (the FUSE server). Buffers are already translated to host memory, so
// the consumer can hand `addr`/`len` straight to preadv/pwritev for zero-copy I/O.

/** One guest buffer of a descriptor chain, mapped into this process. */
export interface GuestBuffer {
  /** Host virtual address of the first byte (fits a Number: user space is below 2^47). */
  readonly addr: number;
  readonly len: number;
  /** A view onto the same bytes of guest memory; no copy. */
  readonly bytes: Uint8Array;
}

/** A popped descriptor chain: the device-readable buffers, then the device-writable ones. */
export interface DescriptorChain {
  /** Index of the head descriptor, returned in the used ring. */
  readonly head: number;
  readonly readable: readonly GuestBuffer[];
  readonly writable: readonly GuestBuffer[];
}

/** `handle` returns this when the reply comes later through the CompletionSink. */
export const DEFERRED = -1;

/** Lets a handler finish a deferred chain (a blocked SETLKW) from a later `poll`. */
export type CompletionSink = (chain: DescriptorChain, queueIndex: number, written: number) => void;

/** The device logic behind a set of virtqueues. One instance per front-end connection. */
export interface ChainHandler {
  /**
   * Consumes one chain and returns how many bytes it wrote into the writable buffers, or DEFERRED.
   * It never throws for a bad request: a malformed chain is answered with an errno.
   */
  handle(chain: DescriptorChain, queueIndex: number): number;
  /** Called after every wake-up of the device loop; returns ms until it wants another call, or -1. */
  poll(): number;
  /** The front-end went away or reset the device: drop all session state (inodes, handles). */
  reset(): void;
}

export type ChainHandlerFactory = (complete: CompletionSink) => ChainHandler;
