// The one error class of the ttrpc layer. Handlers throw it to answer with a status; clients
// reject with it, whether the status came from the server or from the connection itself.

import { type Code, codeName } from './codes';

export class TtrpcError extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TtrpcError';
    this.code = code;
  }

  /** "NotFound: container abc not found": the form used in logs. */
  override toString(): string {
    return `${codeName(this.code)}: ${this.message}`;
  }
}

/**
 * The message of anything thrown, for wrapping it into a TtrpcError or a log line. The packages
 * above have it from @vfs/contracts; proto is the lowest layer, depending on nothing, so ttrpc
 * keeps its own (not exported).
 */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
