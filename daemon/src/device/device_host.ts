// The device loop on the daemon's main thread. Node's event loop watches the loop's epoll fd
// (uv_poll) and runs a turn whenever it is readable, so the control socket, signals and every
// export share one thread and one V8 isolate: a Worker of its own cost each daemon ≈ 14 MiB
// (ARCHITECTURE.md, "The daemon's memory"). While requests come back to back the loop serves them
// from its own epoll set, handing the thread back to Node at least every few ms
// (main_thread_hold.ts); work left then continues from setImmediate, so a guest that keeps its
// queues busy cannot starve the control socket or SIGTERM.
import type { Logger } from 'pino';
import { close } from '../sys/fd';
import { eventfd, signal } from '../sys/eventfd';
import { watchReadable } from '../sys/uv_poll';
import type { ChainHandlerFactory } from '../virtio/descriptor_chain';
import { ControlRequests, type DeviceHost } from './control_requests';
import { DeviceLoop } from './device_loop';
import type { ControlMessage } from './device_options';
import { holdMainThread } from './main_thread_hold';

export type { DeviceHost };

/**
 * Starts the loop with no export. `onFailed` hears of an export the loop closed after an error it
 * could not contain.
 */
export function startDeviceHost<E>(
  makeFactory: (exportConfig: E) => ChainHandlerFactory,
  log: Logger,
  onFailed: (tag: string, message: string) => void = () => undefined,
): DeviceHost<E> {
  const controlFd = eventfd();
  const inbox: ControlMessage<E>[] = [];
  let exit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => {
    exit = resolve;
  });
  const requests = new ControlRequests<E>(
    (msg) => {
      inbox.push(msg);
      signal(controlFd);
    },
    exited,
    onFailed,
  );
  const loop = new DeviceLoop<E>({
    makeFactory,
    control: { eventFd: controlFd, receive: () => inbox.shift(), report: (event) => requests.onEvent(event) },
    log,
  });
  let timer: NodeJS.Timeout | undefined;
  /** The last turn left work: a setImmediate continues it unless a readable fd runs a turn first. */
  let pendingWork = false;
  let immediateQueued = false;
  let running = true;

  const end = (code: number): void => {
    running = false;
    clearTimeout(timer);
    watch.stop();
    try {
      loop.close();
    } catch (err) {
      // Called from libuv through koffi, which would drop an exception without a word.
      log.error({ err }, 'closing the device loop failed');
    }
    close(controlFd);
    requests.ended(code);
    exit(code);
  };
  const drive = (): void => {
    if (!running) return;
    clearTimeout(timer);
    pendingWork = false;
    let next: number;
    try {
      next = holdMainThread(loop);
    } catch (err) {
      // Not an export's error (those stay with their export): the loop itself is broken.
      log.error({ err }, 'device loop failed');
      return end(1);
    }
    if (loop.stopped) return end(0);
    if (next === 0) {
      pendingWork = true;
      if (!immediateQueued) {
        immediateQueued = true;
        setImmediate(continueWork);
      }
    } else if (next > 0) {
      timer = setTimeout(drive, Math.ceil(next));
    }
  };
  const continueWork = (): void => {
    immediateQueued = false;
    if (pendingWork) drive();
  };
  const watch = watchReadable(loop.fd, drive);

  return {
    exited,
    add: (device, exportConfig) => requests.add(device, exportConfig),
    remove: (tag) => requests.remove(tag),
    stop: () => requests.stop(),
  };
}
