// Conversion between thrown errors and the google.rpc.Status carried in a ttrpc Response.

import type { Status } from '../gen/google/rpc/status';
import { Code } from './codes';
import { errorMessage, TtrpcError } from './errors';

export const OK_STATUS: Status = { code: Code.OK, message: '', details: [] };

/**
 * A TtrpcError keeps its code; anything else becomes Unknown with its message, as Go's ttrpc does
 * for plain errors, so the caller still learns what went wrong.
 */
export function statusFromError(err: unknown): Status {
  if (err instanceof TtrpcError) {
    return { code: err.code, message: err.message, details: [] };
  }
  return { code: Code.Unknown, message: errorMessage(err), details: [] };
}

export function errorFromStatus(status: Status): TtrpcError {
  return new TtrpcError(status.code, status.message);
}

export function isOk(status: Status | undefined): boolean {
  return status === undefined || status.code === Code.OK;
}
