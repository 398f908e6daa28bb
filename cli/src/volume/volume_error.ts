// Why a volume command cannot go ahead, found on the CLI side or answered by the shim.
export class VolumeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VolumeError';
  }
}
