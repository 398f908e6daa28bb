// Reading what was thrown: anything can be (a rejection's reason is `unknown`), so code that logs
// an error, wraps it or answers with it takes its text from here rather than casting to Error.

/**
 * The message of anything thrown: an Error's message, or the value itself as text. An error from
 * another realm (a vm context, a Worker) fails `instanceof Error` but still has its message.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}
