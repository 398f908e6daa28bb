// The main-thread side of a device Worker: start it, wait until it listens, stop it.
import { setFlagsFromString } from 'node:v8';
import { MessageChannel, Worker } from 'node:worker_threads';
import { close } from '../sys/fd';
import { eventfd, signal } from '../sys/eventfd';
import type { Logger } from 'pino';
import type { ControlMessage } from './device_options';
import { DeviceError } from './errors';
import type { DeviceWorkerData, DeviceWorkerEvent } from './worker';

export interface DeviceWorker {
  readonly worker: Worker;
  /** Resolves once the vhost-user socket listens; rejects if the worker dies first. */
  readonly listening: Promise<void>;
  /** Resolves with the worker's exit code. */
  readonly exited: Promise<number>;
  /** Asks the device loop to stop (it drops its front-end) and waits for the worker to exit. */
  stop(): Promise<number>;
}

/**
 * A device Worker keeps little alive, but V8's semi-spaces (up to 16 MiB) grow while it boots and
 * under load, and stay committed. Capped at 4 MiB: 1 MiB less RSS per idle export and about 10 MiB
 * less after bench-daemon, with no slowdown beyond noise (ARCHITECTURE.md, "The daemon's memory").
 * V8 reads the flag when an isolate is created, so it holds for every Worker started after this.
 * (Worker resourceLimits.maxYoungGenerationSizeMb was measured too and saved nothing.)
 */
function capYoungGeneration(): void {
  setFlagsFromString('--max-semi-space-size=4');
}

/** Starts `script` (a bundled worker entry calling serveFromWorker) for one export. */
export function startDeviceWorker<E>(
  script: string,
  data: Omit<DeviceWorkerData<E>, 'controlFd' | 'port'>,
  log: Logger,
): DeviceWorker {
  const tag = data.device.tag;
  const controlFd = eventfd();
  const { port1, port2 } = new MessageChannel();
  const workerData: DeviceWorkerData<E> = { ...data, controlFd, port: port2 };
  capYoungGeneration();
  const worker = new Worker(script, { workerData, transferList: [port2] });
  let running = true;
  // An uncaught exception in the worker: its cause, which the exit code alone would lose.
  worker.on('error', (err) => log.error({ export: tag, err }, 'device worker failed'));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve)).then((code) => {
    running = false;
    port1.close();
    close(controlFd);
    return code;
  });
  const listening = new Promise<void>((resolve, reject) => {
    worker.on('message', (event: DeviceWorkerEvent) => {
      if (event.type === 'listening') resolve();
    });
    worker.once('error', reject);
    void exited.then((code) =>
      reject(new DeviceError(tag, `device worker exited (${code}) before listening`, data.device.socketPath)),
    );
  });
  let stopping: Promise<number> | null = null;
  return {
    worker,
    listening,
    exited,
    stop(): Promise<number> {
      if (!running) return exited;
      stopping ??= (() => {
        const stop: ControlMessage = { type: 'stop' };
        port1.postMessage(stop);
        signal(controlFd);
        return exited;
      })();
      return stopping;
    },
  };
}
