// What a server handler learns about the call besides the request message.

import type { Metadata } from './metadata';

export interface CallContext {
  /** e.g. "containerd.task.v2.Task". */
  readonly service: string;
  /** e.g. "State" (the proto method name). */
  readonly method: string;
  readonly metadata: Metadata;
  /**
   * Aborted when the client's timeout passes (the client has then already been answered with
   * DeadlineExceeded) or when the connection closes; `signal.reason` is a TtrpcError saying which.
   */
  readonly signal: AbortSignal;
  /** Date.now() at which the client's timeout runs out, if it sent one. */
  readonly deadline: number | undefined;
}
