// The vhost-user layer's error: a protocol violation by the peer, or a failed exchange.

export interface VhostUserErrorContext {
  /** The request code being handled, when known. */
  readonly request?: number;
  /** The framing is broken (short read, oversized payload, EOF mid-message): drop the connection. */
  readonly fatal?: boolean;
}

export class VhostUserError extends Error {
  readonly request: number | undefined;
  readonly fatal: boolean;

  constructor(message: string, context: VhostUserErrorContext = {}) {
    super(message);
    this.name = 'VhostUserError';
    this.request = context.request;
    this.fatal = context.fatal ?? false;
  }
}

/**
 * A back-end request given up without its reply: the front-end waits for the answer to a message
 * of its own that is held back behind the request (a ring stop or a reset), and answers nothing
 * before it. The front-end may still carry the request out later.
 */
export class FrontendWaitingError extends VhostUserError {
  constructor(message: string, context: VhostUserErrorContext = {}) {
    super(message, context);
    this.name = 'FrontendWaitingError';
  }
}
