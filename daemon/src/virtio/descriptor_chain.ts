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
/**
 * `handle` returns this when the chain cannot be served now (FrontendBusy): it goes back on its
 * ring unanswered and is taken again once the ring runs.
 */
export const REQUEUED = -2;

/**
 * Thrown by BackendRequests when the front-end will not answer before it has an answer of ours
 * that cannot come first (a ring stop or a reset sent while a map awaited its reply). The request
 * may be half done; run again, it finishes what is left (shmem_requests.ts: a chunk whose request
 * was given up is treated as possibly mapped).
 */
export class FrontendBusy extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FrontendBusy';
  }
}

/** Lets a handler finish a deferred chain (a blocked SETLKW) from a later `poll`. */
export type CompletionSink = (chain: DescriptorChain, queueIndex: number, written: number) => void;

/** The device logic behind a set of virtqueues. One instance per front-end connection. */
export interface ChainHandler {
  /**
   * Consumes one chain and returns how many bytes it wrote into the writable buffers, DEFERRED or
   * REQUEUED. It never throws for a bad request: a malformed chain is answered with an errno.
   */
  handle(chain: DescriptorChain, queueIndex: number): number;
  /** Called after every wake-up of the device loop; returns ms until it wants another call, or -1. */
  poll(): number;
  /** The front-end went away or reset the device: drop all session state (inodes, handles). */
  reset(): void;
}

/** A file range to map into shared-memory region 0 (the virtio-fs DAX window). */
export interface ShmemMapRequest {
  /** Borrowed: the front-end receives a duplicate, the caller still closes it. */
  readonly fd: number;
  readonly fdOffset: number;
  /** Offset in the window. */
  readonly shmOffset: number;
  readonly len: number;
  /** The guest may write through the mapping. */
  readonly writable: boolean;
}

/**
 * What a handler may ask of the front-end over the vhost-user back-end channel. Each call blocks
 * until the front-end acknowledged it, so the mapping is in place before the guest hears back.
 * A refusal or a broken channel throws (the caller answers the guest with an errno); a front-end
 * that cannot answer yet throws FrontendBusy (the caller returns REQUEUED).
 */
export interface BackendRequests {
  /** Bytes of shared-memory region 0 (the DAX window). */
  readonly windowSize: number;
  map(request: ShmemMapRequest): void;
  unmap(shmOffset: number, len: number): void;
}

/**
 * The back-end requests of the current connection, or null when the front-end gave no channel
 * with REPLY_ACK or took no shared-memory region. Asked per request: the channel may come later.
 */
export type BackendAccess = () => BackendRequests | null;

/** For handlers run without a vhost-user front-end. */
export const NO_BACKEND: BackendAccess = () => null;

export type ChainHandlerFactory = (complete: CompletionSink, backend: BackendAccess) => ChainHandler;
