// The device side of a device Worker: reads workerData, builds the export's handler factory and
// runs the device loop until the main thread posts `stop`. A worker script is one line:
//   serveFromWorker((exportConfig) => (complete, backend) => createFuseHandler(exportConfig, complete, backend));
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { createLogger } from '../log';
import type { ChainHandlerFactory } from '../virtio/descriptor_chain';
import { runDevice } from './device_loop';
import type { ControlMessage, DeviceOptions } from './device_options';

export type LogLevel = Parameters<typeof createLogger>[0];

/** What the main thread passes to a device Worker (structured-cloned; `port` is transferred). */
export interface DeviceWorkerData<E> {
  readonly device: DeviceOptions;
  readonly exportConfig: E;
  readonly logLevel: LogLevel;
  readonly controlFd: number;
  readonly port: MessagePort;
}

/** Messages a device Worker posts to the main thread. */
export type DeviceWorkerEvent = { readonly type: 'listening' };

export function serveFromWorker<E>(makeFactory: (exportConfig: E) => ChainHandlerFactory): void {
  const data = workerData as DeviceWorkerData<E>;
  const log = createLogger(data.logLevel, { export: data.device.tag });
  const listening: DeviceWorkerEvent = { type: 'listening' };
  runDevice({
    options: data.device,
    createHandler: makeFactory(data.exportConfig),
    control: {
      eventFd: data.controlFd,
      receive: () => receiveMessageOnPort(data.port)?.message as ControlMessage | undefined,
    },
    log,
    onListening: () => parentPort?.postMessage(listening),
  });
}
