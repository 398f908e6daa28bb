/**
 * Errors of the layers below, as the ttrpc status the shim branches on (containerd's errdefs
 * reads the gRPC codes): the cause stays in the message, the errno name is appended.
 */
import { errorMessage, SpecError } from '@vfs/contracts';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import { ContainerError, type ContainerErrorCode } from '../container/errors';

const CODES: Record<ContainerErrorCode, Code> = {
  INVALID_SPEC: Code.InvalidArgument,
  UNSUPPORTED: Code.InvalidArgument,
  ALREADY_EXISTS: Code.AlreadyExists,
  NOT_FOUND: Code.NotFound,
  BAD_STATE: Code.FailedPrecondition,
  // A missing binary, a failed mount of the spec: the request cannot run in this guest as it is.
  LAUNCH_FAILED: Code.FailedPrecondition,
  CGROUP_FAILED: Code.Internal,
  GUEST_SETUP_FAILED: Code.Internal,
};

export function asTtrpcError(err: unknown): TtrpcError {
  if (err instanceof TtrpcError) return err;
  if (err instanceof SpecError) return new TtrpcError(Code.InvalidArgument, err.message, { cause: err });
  if (err instanceof ContainerError) {
    const errno = err.errnoName === undefined ? '' : ` (${err.errnoName})`;
    return new TtrpcError(CODES[err.code], `${err.message}${errno}`, { cause: err });
  }
  return new TtrpcError(Code.Internal, errorMessage(err), { cause: err });
}

export function invalid(message: string): TtrpcError {
  return new TtrpcError(Code.InvalidArgument, message);
}
