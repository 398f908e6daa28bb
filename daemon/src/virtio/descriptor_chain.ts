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

/** Consumes one chain and returns how many bytes it wrote into the writable buffers. */
export interface ChainHandler {
  handle(chain: DescriptorChain, queueIndex: number): number;
}
