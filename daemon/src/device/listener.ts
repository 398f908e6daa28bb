// The listening vhost-user socket of a device: created at --socket-path, or inherited via --fd.
import { rmSync } from 'node:fs';
import { close } from '../sys/fd';
import { listenUnix } from '../sys/socket';
import type { DeviceOptions } from './device_options';
import { DeviceError } from './errors';

export class Listener {
  private constructor(
    readonly fd: number,
    /** Set when we created the socket file, so we remove it on close. */
    private readonly path: string | null,
  ) {}

  static open(options: DeviceOptions): Listener {
    if (options.socketPath !== undefined && options.listenFd !== undefined) {
      throw new DeviceError(options.tag, 'socketPath and listenFd are mutually exclusive', options.socketPath);
    }
    if (options.listenFd !== undefined) return new Listener(options.listenFd, null);
    if (options.socketPath === undefined) throw new DeviceError(options.tag, 'needs socketPath or listenFd');
    rmSync(options.socketPath, { force: true });
    return new Listener(listenUnix(options.socketPath, 1), options.socketPath);
  }

  describe(): string {
    return this.path ?? `fd ${this.fd}`;
  }

  close(): void {
    close(this.fd);
    if (this.path !== null) rmSync(this.path, { force: true });
  }
}
