// The device loop of one export: one thread, one epoll set holding the listening socket, the
// control eventfd, the front-end connection and its kick eventfds. It serves one front-end at a
// time and outlives it: after a disconnect (guest reboot, QEMU restart) it accepts the next one.
import type { Logger } from 'pino';
import { drain } from '../sys/eventfd';
import { tryClose } from '../sys/fd';
import { Epoll, EPOLLIN } from '../sys/epoll';
import { accept } from '../sys/socket';
import type { ChainHandlerFactory } from '../virtio/descriptor_chain';
import { VhostUserError } from '../vhost_user/errors';
import type { DeviceControl, DeviceOptions } from './device_options';
import { Listener } from './listener';
import { Session, TOKEN_KICK_BASE, TOKEN_SOCKET } from './session';

const TOKEN_LISTEN = 0;
const TOKEN_CONTROL = 1;

export interface RunDeviceParams {
  readonly options: DeviceOptions;
  /** Makes the device logic for each new front-end connection. */
  readonly createHandler: ChainHandlerFactory;
  readonly control: DeviceControl;
  readonly log: Logger;
  /** Called once the socket listens (the controller may then start the VMM). */
  readonly onListening?: () => void;
}

/** Serves the export until the controller posts `stop`. Blocks the calling thread. */
export function runDevice(params: RunDeviceParams): void {
  const loop = new DeviceLoop(params);
  try {
    loop.run();
  } finally {
    loop.close();
  }
}

class DeviceLoop {
  private readonly epoll = new Epoll();
  private readonly listener: Listener;
  private session: Session | null = null;
  private stopped = false;

  constructor(private readonly params: RunDeviceParams) {
    this.listener = Listener.open(params.options);
  }

  run(): void {
    const { control, log, onListening } = this.params;
    this.epoll.add(this.listener.fd, EPOLLIN, TOKEN_LISTEN);
    this.epoll.add(control.eventFd, EPOLLIN, TOKEN_CONTROL);
    log.info({ socket: this.listener.describe() }, 'listening');
    onListening?.();
    let timeout = -1;
    while (!this.stopped) {
      const n = this.epoll.wait(timeout);
      for (let i = 0; i < n && !this.stopped; i++) this.dispatch(this.epoll.tokenAt(i), this.epoll.eventsAt(i));
      timeout = this.afterWake();
    }
    log.info('stopped');
  }

  close(): void {
    if (this.session !== null) this.dropSession('device stopping');
    this.listener.close();
    this.epoll.close();
  }

  private dispatch(token: number, events: number): void {
    if (token === TOKEN_LISTEN) return this.acceptFrontend();
    if (token === TOKEN_CONTROL) return this.readControl();
    const session = this.session;
    if (session === null) return;
    try {
      if (token === TOKEN_SOCKET) {
        if (!session.onSocket(events)) this.dropSession('front-end disconnected');
      } else {
        session.onKick(token - TOKEN_KICK_BASE);
      }
    } catch (err) {
      this.failSession(err);
    }
  }

  private afterWake(): number {
    if (this.session === null) return -1;
    try {
      return this.session.afterWake();
    } catch (err) {
      this.failSession(err);
      return -1;
    }
  }

  private acceptFrontend(): void {
    const { options, createHandler, log } = this.params;
    const fd = accept(this.listener.fd);
    try {
      this.session = new Session(fd, this.epoll, options, createHandler, log);
    } catch (err) {
      // This front-end cannot be served (its handler would not build): the next one may be.
      log.error({ err }, 'cannot serve the front-end: connection closed');
      // A socket we never wrote to: closing it cannot fail in a way worth reporting.
      tryClose(fd);
      return;
    }
    // One front-end at a time: others wait in the backlog until this one leaves.
    this.epoll.remove(this.listener.fd);
    log.info('front-end connected');
  }

  private readControl(): void {
    drain(this.params.control.eventFd);
    for (let msg = this.params.control.receive(); msg !== undefined; msg = this.params.control.receive()) {
      if (msg.type === 'stop') this.stopped = true;
    }
  }

  /** A connection-level failure (broken framing, a failed syscall): drop the front-end, keep serving. */
  private failSession(err: unknown): void {
    const fatalProtocol = err instanceof VhostUserError && err.fatal;
    this.params.log.error({ err }, fatalProtocol ? 'protocol violation' : 'connection failed');
    this.dropSession('connection dropped after an error');
  }

  private dropSession(reason: string): void {
    const session = this.session;
    if (session === null) return;
    this.session = null;
    try {
      session.close();
    } finally {
      this.params.log.info(reason);
      if (!this.stopped) this.epoll.add(this.listener.fd, EPOLLIN, TOKEN_LISTEN);
    }
  }
}
