// The device side of the device Worker: reads workerData and runs the device thread, serving the
// exports the main thread adds until it posts `stop`. A worker script is one line:
//   serveFromWorker((exportConfig) => (complete, backend) => createFuseHandler(exportConfig, complete, backend));
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { createLogger } from '../log';
import type { ChainHandlerFactory } from '../virtio/descriptor_chain';
import { runDeviceThread } from './device_loop';
import type { ControlMessage, DeviceEvent } from './device_options';

export type LogLevel = Parameters<typeof createLogger>[0];

/** What the main thread passes to the device Worker (structured-cloned; `port` is transferred). */
export interface DeviceWorkerData {
  readonly logLevel: LogLevel;
  readonly controlFd: number;
  readonly port: MessagePort;
}

export function serveFromWorker<E>(makeFactory: (exportConfig: E) => ChainHandlerFactory): void {
  const data = workerData as DeviceWorkerData;
  runDeviceThread<E>({
    makeFactory,
    control: {
      eventFd: data.controlFd,
      receive: () => receiveMessageOnPort(data.port)?.message as ControlMessage<E> | undefined,
      report: (event: DeviceEvent) => parentPort?.postMessage(event),
    },
    log: createLogger(data.logLevel, { component: 'device-thread' }),
  });
}
