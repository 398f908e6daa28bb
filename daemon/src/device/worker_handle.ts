// The main-thread side of the device Worker: start it, add and remove exports on it, stop it.
// One Worker serves every export of the daemon (ARCHITECTURE.md, "The daemon's memory").
import { setFlagsFromString } from 'node:v8';
import { MessageChannel, Worker } from 'node:worker_threads';
import { close } from '../sys/fd';
import { eventfd, signal } from '../sys/eventfd';
import type { Logger } from 'pino';
import type { ControlMessage, DeviceEvent, DeviceOptions } from './device_options';
import { DeviceError } from './errors';
import type { DeviceWorkerData, LogLevel } from './worker';

export interface DeviceThread<E> {
  /** Resolves with the worker's exit code. */
  readonly exited: Promise<number>;
  /** Serves one more export; resolves once its socket listens, rejects with DeviceError if it cannot. */
  add(device: DeviceOptions, exportConfig: E): Promise<void>;
  /** Closes the export's front-end, socket and fds; resolves once done (or once the thread is gone). */
  remove(tag: string): Promise<void>;
  /** Asks the thread to close every export and waits for the worker to exit. */
  stop(): Promise<number>;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The Worker keeps little alive, but V8's semi-spaces (up to 16 MiB) grow while it boots and
 * under load, and stay committed. Capped at 4 MiB: 1 MiB less RSS idle and about 10 MiB less
 * after bench-daemon, with no slowdown beyond noise (ARCHITECTURE.md, "The daemon's memory").
 * V8 reads the flag when an isolate is created, so it holds for every Worker started after this.
 * (Worker resourceLimits.maxYoungGenerationSizeMb was measured too and saved nothing.)
 */
function capYoungGeneration(): void {
  setFlagsFromString('--max-semi-space-size=4');
}

/**
 * Starts `script` (a bundled worker entry calling serveFromWorker). `onFailed` hears of an export
 * the thread closed after an error it could not contain.
 */
export function startDeviceThread<E>(
  script: string,
  logLevel: LogLevel,
  log: Logger,
  onFailed: (tag: string, message: string) => void = () => undefined,
): DeviceThread<E> {
  const controlFd = eventfd();
  const { port1, port2 } = new MessageChannel();
  const workerData: DeviceWorkerData = { logLevel, controlFd, port: port2 };
  capYoungGeneration();
  const worker = new Worker(script, { workerData, transferList: [port2] });
  let running = true;
  const adding = new Map<string, Waiter>();
  const removing = new Map<string, Waiter>();
  // An uncaught exception in the worker: its cause, which the exit code alone would lose.
  worker.on('error', (err) => log.error({ err }, 'device thread failed'));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve)).then((code) => {
    running = false;
    port1.close();
    close(controlFd);
    for (const [tag, w] of adding) w.reject(new DeviceError(tag, `device thread exited (${code}) before listening`));
    // Whatever was being removed is gone with the thread.
    for (const w of removing.values()) w.resolve();
    adding.clear();
    removing.clear();
    return code;
  });
  worker.on('message', (event: DeviceEvent) => {
    switch (event.type) {
      case 'listening':
        return settle(adding, event.tag)?.resolve();
      case 'add-failed':
        return settle(adding, event.tag)?.reject(new DeviceError(event.tag, event.message));
      case 'removed':
        return settle(removing, event.tag)?.resolve();
      case 'failed':
        return onFailed(event.tag, event.message);
    }
  });
  const post = (msg: ControlMessage<E>): void => {
    port1.postMessage(msg);
    signal(controlFd);
  };
  const request = (waiters: Map<string, Waiter>, tag: string, msg: ControlMessage<E>): Promise<void> => {
    if (!running) return Promise.reject(new DeviceError(tag, 'the device thread has exited'));
    if (waiters.has(tag)) return Promise.reject(new DeviceError(tag, 'a request for this export is under way'));
    return new Promise<void>((resolve, reject) => {
      waiters.set(tag, { resolve, reject });
      post(msg);
    });
  };
  let stopping: Promise<number> | null = null;
  return {
    exited,
    add: (device, exportConfig) => request(adding, device.tag, { type: 'add', device, exportConfig }),
    remove: (tag) => (running ? request(removing, tag, { type: 'remove', tag }) : Promise.resolve()),
    stop(): Promise<number> {
      if (!running) return exited;
      stopping ??= (() => {
        post({ type: 'stop' });
        return exited;
      })();
      return stopping;
    },
  };
}

function settle(waiters: Map<string, Waiter>, tag: string): Waiter | undefined {
  const w = waiters.get(tag);
  waiters.delete(tag);
  return w;
}
