// Test plumbing, the Worker's side: the device loop on a thread of its own, blocking in epoll
// between turns until the controller posts `stop`. The test thread then stays free to drive
// front-ends synchronously. A worker script is one line:
//   serveFromWorker((exportConfig) => (complete, backend) => makeHandler(exportConfig, complete, backend));
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { LogLevel } from '../src/cli';
import { DeviceLoop } from '../src/device/device_loop';
import type { ControlMessage, DeviceEvent } from '../src/device/device_options';
import { createLogger } from '../src/log';
import type { ChainHandlerFactory } from '../src/virtio/descriptor_chain';

export type { LogLevel };

/** What the test thread passes to the device Worker (structured-cloned; `port` is transferred). */
export interface DeviceWorkerData {
  readonly logLevel: LogLevel;
  readonly controlFd: number;
  readonly port: MessagePort;
}

export function serveFromWorker<E>(makeFactory: (exportConfig: E) => ChainHandlerFactory): void {
  const data = workerData as DeviceWorkerData;
  const loop = new DeviceLoop<E>({
    makeFactory,
    control: {
      eventFd: data.controlFd,
      receive: () => receiveMessageOnPort(data.port)?.message as ControlMessage<E> | undefined,
      report: (event: DeviceEvent) => parentPort?.postMessage(event),
    },
    log: createLogger(data.logLevel, { component: 'device-thread' }),
  });
  try {
    for (let timeout = -1; !loop.stopped; ) timeout = loop.turn(timeout);
  } finally {
    loop.close();
  }
}
