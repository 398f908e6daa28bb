// The controller's side of the device loop's control messages: at most one add or remove under way
// per export, each settled by the event the loop reports for it, and all of them when the loop
// ends. Wherever the loop runs (the daemon's main thread, or a thread of its own in tests), its
// controller is a DeviceHost.
import type { ControlMessage, DeviceEvent, DeviceOptions } from './device_options';
import { DeviceError } from './errors';

export interface DeviceHost<E> {
  /** Resolves with the loop's exit code: 0 after stop(), non-zero if it failed. */
  readonly exited: Promise<number>;
  /** Serves one more export; resolves once its socket listens, rejects with DeviceError if it cannot. */
  add(device: DeviceOptions, exportConfig: E): Promise<void>;
  /** Closes the export's front-end, socket and fds; resolves once done (or once the loop is gone). */
  remove(tag: string): Promise<void>;
  /** Asks the loop to close every export and waits for it to end. */
  stop(): Promise<number>;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export class ControlRequests<E> {
  private running = true;
  private readonly adding = new Map<string, Waiter>();
  private readonly removing = new Map<string, Waiter>();
  private stopping: Promise<number> | null = null;

  constructor(
    /** Hands a message to the loop and wakes it. */
    private readonly post: (msg: ControlMessage<E>) => void,
    private readonly exited: Promise<number>,
    /** Hears of an export the loop closed after an error it could not contain. */
    private readonly onFailed: (tag: string, message: string) => void,
  ) {}

  add(device: DeviceOptions, exportConfig: E): Promise<void> {
    return this.request(this.adding, device.tag, { type: 'add', device, exportConfig });
  }

  remove(tag: string): Promise<void> {
    return this.running ? this.request(this.removing, tag, { type: 'remove', tag }) : Promise.resolve();
  }

  stop(): Promise<number> {
    if (!this.running) return this.exited;
    this.stopping ??= (() => {
      this.post({ type: 'stop' });
      return this.exited;
    })();
    return this.stopping;
  }

  /** What the loop reported. */
  onEvent(event: DeviceEvent): void {
    switch (event.type) {
      case 'listening':
        return this.settle(this.adding, event.tag)?.resolve();
      case 'add-failed':
        return this.settle(this.adding, event.tag)?.reject(new DeviceError(event.tag, event.message));
      case 'removed':
        return this.settle(this.removing, event.tag)?.resolve();
      case 'failed':
        return this.onFailed(event.tag, event.message);
    }
  }

  /** The loop has ended (with `code`): nothing under way will be answered. */
  ended(code: number): void {
    this.running = false;
    for (const [tag, w] of this.adding) w.reject(new DeviceError(tag, `device loop ended (${code}) before listening`));
    // Whatever was being removed is gone with the loop.
    for (const w of this.removing.values()) w.resolve();
    this.adding.clear();
    this.removing.clear();
  }

  private request(waiters: Map<string, Waiter>, tag: string, msg: ControlMessage<E>): Promise<void> {
    if (!this.running) return Promise.reject(new DeviceError(tag, 'the device loop has ended'));
    if (waiters.has(tag)) return Promise.reject(new DeviceError(tag, 'a request for this export is under way'));
    return new Promise<void>((resolve, reject) => {
      waiters.set(tag, { resolve, reject });
      this.post(msg);
    });
  }

  private settle(waiters: Map<string, Waiter>, tag: string): Waiter | undefined {
    const w = waiters.get(tag);
    waiters.delete(tag);
    return w;
  }
}
