// The one error class of the shim frame, and where a runtime's domain errors become wire
// statuses. It is a TtrpcError, so a handler that throws it answers containerd with its code
// (errdefs maps NotFound, AlreadyExists, FailedPrecondition, … back to its own error kinds); the
// gRPC server maps the same codes, which gRPC shares with ttrpc.

import { errorMessage } from '@vfs/contracts';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import { SandboxError, type SandboxErrorKind } from './sandbox_error';

/** Each kind of SandboxError as containerd reads it; 'unclassified' answers as its cause. */
const SANDBOX_CODES: Record<Exclude<SandboxErrorKind, 'unclassified'>, Code> = {
  'not-found': Code.NotFound,
  'bad-request': Code.InvalidArgument,
  'bad-config': Code.InvalidArgument,
  'not-installed': Code.FailedPrecondition,
  'wrong-state': Code.FailedPrecondition,
  unsupported: Code.FailedPrecondition,
  unreachable: Code.Unavailable,
  timeout: Code.DeadlineExceeded,
  'host-failure': Code.Internal,
};

/** A coded error (the agent's answers are TtrpcErrors) keeps its code; anything else is `fallback`. */
function codeOf(err: unknown, fallback: Code): Code {
  if (err instanceof TtrpcError) return err.code;
  if (err instanceof SandboxError)
    return err.kind === 'unclassified' ? codeOf(err.cause, fallback) : SANDBOX_CODES[err.kind];
  return fallback;
}

export class ShimError extends TtrpcError {
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ShimError';
  }

  /** Keeps a coded error's code and prefixes the context; anything else becomes `fallback`. */
  static wrap(err: unknown, context: string, fallback: Code = Code.Unknown): ShimError {
    return new ShimError(codeOf(err, fallback), `${context}: ${errorMessage(err)}`, { cause: err });
  }

  /** What a call answers with when it failed: the same message, with the error's code or Unknown. */
  static from(err: unknown): TtrpcError {
    if (err instanceof TtrpcError) return err;
    return new ShimError(codeOf(err, Code.Unknown), errorMessage(err), { cause: err });
  }
}

export { Code };
