// Test plumbing, the test thread's side: the device loop in a Worker (device_worker.ts), controlled
// like the daemon's own (a DeviceHost), so tests can block on synchronous front-ends meanwhile.
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ControlRequests, type DeviceHost } from '../src/device/control_requests';
import type { ControlMessage, DeviceEvent } from '../src/device/device_options';
import { close } from '../src/sys/fd';
import { eventfd, signal } from '../src/sys/eventfd';
import type { DeviceWorkerData, LogLevel } from './device_worker';

/** Starts `script` (a bundled worker entry calling serveFromWorker). */
export function startDeviceThread<E>(
  script: string,
  logLevel: LogLevel,
  log: Logger,
  onFailed: (tag: string, message: string) => void = () => undefined,
): DeviceHost<E> {
  const controlFd = eventfd();
  const { port1, port2 } = new MessageChannel();
  const workerData: DeviceWorkerData = { logLevel, controlFd, port: port2 };
  const worker = new Worker(script, { workerData, transferList: [port2] });
  // An uncaught exception in the worker: its cause, which the exit code alone would lose.
  worker.on('error', (err) => log.error({ err }, 'device thread failed'));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve)).then((code) => {
    port1.close();
    close(controlFd);
    requests.ended(code);
    return code;
  });
  const requests = new ControlRequests<E>(
    (msg: ControlMessage<E>) => {
      port1.postMessage(msg);
      signal(controlFd);
    },
    exited,
    onFailed,
  );
  worker.on('message', (event: DeviceEvent) => requests.onEvent(event));
  return {
    exited,
    add: (device, exportConfig) => requests.add(device, exportConfig),
    remove: (tag) => requests.remove(tag),
    stop: () => requests.stop(),
  };
}
