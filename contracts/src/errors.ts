// Reading what was thrown: anything can be (a rejection's reason is `unknown`), so code that logs
// an error, wraps it or answers with it takes its text from here rather than casting to Error.

/** The message of anything thrown: an Error's message, or the value itself as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
