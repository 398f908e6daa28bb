// One export on the device thread: its listening socket, its front-end session and its own errors.
// It serves one front-end at a time and outlives it: after a disconnect (guest reboot, QEMU
// restart) it accepts the next one. A failure here drops this export's session only; the loop
// routes it the events of its token range and never sees its state.
import type { Logger } from 'pino';
import { tryClose } from '../sys/fd';
import { type Epoll, EPOLLIN } from '../sys/epoll';
import { accept } from '../sys/socket';
import type { ChainHandlerFactory } from '../virtio/descriptor_chain';
import type { Neighbours } from '../vhost_user/backend_channel';
import { VhostUserError } from '../vhost_user/errors';
import type { DeviceOptions } from './device_options';
import { DeviceError } from './errors';
import { Listener } from './listener';
import { Session } from './session';
import { MAX_QUEUES, TOKEN_KICK_BASE, TOKEN_LISTEN, TOKEN_SOCKET } from './tokens';

export class ExportDevice {
  private readonly listener: Listener;
  private session: Session | null = null;
  /** Whether the listener is in the epoll set (only while no front-end is served). */
  private accepting = false;
  private closing = false;

  /** Opens the export's socket and starts accepting; throws DeviceError if it cannot. */
  constructor(
    private readonly epoll: Epoll,
    /** The first token of this export's range (tokens.ts). */
    private readonly tokenBase: number,
    private readonly options: DeviceOptions,
    /** Makes the device logic for each new front-end connection. */
    private readonly createHandler: ChainHandlerFactory,
    private readonly log: Logger,
    /** The other exports on the thread, served while this one's handler awaits QEMU. */
    private readonly neighbours: Neighbours,
  ) {
    const queues = 1 + (options.requestQueues ?? 1);
    if (queues > MAX_QUEUES) throw new DeviceError(options.tag, `${queues} queues: at most ${MAX_QUEUES}`);
    this.listener = Listener.open(options);
    try {
      this.accept();
    } catch (err) {
      this.listener.close();
      throw err;
    }
    log.info({ socket: this.listener.describe() }, 'listening');
  }

  /** An event of this export's range; `local` is the token within it. */
  dispatch(local: number, events: number): void {
    if (local === TOKEN_LISTEN) return this.acceptFrontend();
    const session = this.session;
    if (session === null) return;
    try {
      if (local === TOKEN_SOCKET) {
        if (!session.onSocket(events)) this.dropSession('front-end disconnected');
      } else {
        session.onKick(local - TOKEN_KICK_BASE);
      }
    } catch (err) {
      this.failSession(err);
    }
  }

  /** Processes the session's queues; returns its next timeout (-1: none). */
  afterWake(): number {
    if (this.session === null) return -1;
    try {
      return this.session.afterWake();
    } catch (err) {
      this.failSession(err);
      return -1;
    }
  }

  /** Drops the front-end, stops listening and removes the socket file. */
  close(reason: string): void {
    this.closing = true;
    try {
      this.dropSession(reason);
    } finally {
      if (this.accepting) this.epoll.remove(this.listener.fd);
      this.listener.close();
    }
  }

  private accept(): void {
    this.epoll.add(this.listener.fd, EPOLLIN, this.tokenBase + TOKEN_LISTEN);
    this.accepting = true;
  }

  private acceptFrontend(): void {
    if (!this.accepting) return;
    const fd = accept(this.listener.fd);
    try {
      this.session = new Session(
        fd,
        this.epoll,
        this.tokenBase,
        this.options,
        this.createHandler,
        this.log,
        this.neighbours,
      );
    } catch (err) {
      // This front-end cannot be served (its handler would not build): the next one may be.
      this.log.error({ err }, 'cannot serve the front-end: connection closed');
      // A socket we never wrote to: closing it cannot fail in a way worth reporting.
      tryClose(fd);
      return;
    }
    // One front-end at a time: others wait in the backlog until this one leaves.
    this.epoll.remove(this.listener.fd);
    this.accepting = false;
    this.log.info('front-end connected');
  }

  /** A connection-level failure (broken framing, a failed syscall): drop the front-end, keep serving. */
  private failSession(err: unknown): void {
    const fatalProtocol = err instanceof VhostUserError && err.fatal;
    this.log.error({ err }, fatalProtocol ? 'protocol violation' : 'connection failed');
    this.dropSession('connection dropped after an error');
  }

  private dropSession(reason: string): void {
    const session = this.session;
    if (session === null) return;
    this.session = null;
    try {
      session.close();
    } finally {
      this.log.info(reason);
      if (!this.closing) this.accept();
    }
  }
}
