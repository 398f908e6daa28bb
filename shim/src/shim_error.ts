// The one error class of the shim layer. It is a TtrpcError, so a handler that throws it answers
// containerd with its code (errdefs maps NotFound, AlreadyExists, FailedPrecondition, … back to
// its own error kinds); the gRPC server maps the same codes, which gRPC shares with ttrpc.

import { Code, TtrpcError } from '@vfs/proto/ttrpc';

export class ShimError extends TtrpcError {
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ShimError';
  }

  /** Keeps a coded error's code and prefixes the context; anything else becomes `fallback`. */
  static wrap(err: unknown, context: string, fallback: Code = Code.Unknown): ShimError {
    if (err instanceof TtrpcError) return new ShimError(err.code, `${context}: ${err.message}`, { cause: err });
    const message = err instanceof Error ? err.message : String(err);
    return new ShimError(fallback, `${context}: ${message}`, { cause: err });
  }
}

export { Code };
