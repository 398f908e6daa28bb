// The device layer's error: an export's device cannot be set up or its loop failed.

export class DeviceError extends Error {
  constructor(
    /** The export the device serves. */
    readonly tag: string,
    message: string,
    /** The socket path involved, when there is one. */
    readonly path?: string,
  ) {
    super(`export ${tag}: ${message}`);
    this.name = 'DeviceError';
  }
}
