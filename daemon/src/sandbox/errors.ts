// The sandbox layer's error: the daemon cannot be confined as asked.

export class SandboxError extends Error {
  constructor(
    message: string,
    /** The host path involved, when there is one. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }
}
