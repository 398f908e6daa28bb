// One front-end connection: its vhost-user back-end, its ChainHandler, and the processing of its
// queues. The device loop feeds it socket and kick events; everything runs on the loop's thread,
// so memory-table changes never race queue processing. While a handler waits for a back-end reply
// (a DAX map), the memory changes QEMU makes meanwhile are served in between (serveFrontendMessage).
// A message held back meanwhile that QEMU waits on (a ring stop) ends the wait: the chain goes back
// on its ring unanswered, and no chain is taken until the message is served (QEMU would answer
// neither before the other).
import type { Logger } from 'pino';
import { signal } from '../sys/eventfd';
import { closeAll } from '../sys/fd';
import { schedYield } from '../sys/sched';
import { EPOLLERR, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLRDHUP, type Epoll } from '../sys/epoll';
import { VhostUserBackend, type VringObserver } from '../vhost_user/backend';
import type { Neighbours } from '../vhost_user/backend_channel';
import { Connection, type VhostUserMessage } from '../vhost_user/connection';
import { FrontendRequest as R } from '../vhost_user/protocol';
import {
  DEFERRED,
  REQUEUED,
  type BackendRequests,
  type ChainHandler,
  type ChainHandlerFactory,
  type DescriptorChain,
} from '../virtio/descriptor_chain';
import { writableBytes } from '../virtio/virtqueue';
import type { DeviceOptions } from './device_options';
import { PollWindow } from './poll_window';
import { ShmemRequests, WindowMappings } from './shmem_requests';
import { TOKEN_KICK_BASE, TOKEN_SOCKET } from './tokens';

/** Longest stretch of busy polling with work flowing before the loop checks its other fds. */
const SPIN_SLICE_MS = 1;
/**
 * What may be served while a chain handler waits for a back-end reply: the memory announcements
 * QEMU blocks on while it maps (they only add or retire mappings; pinned chains stay valid), and
 * queries that change nothing. Anything else (ring stops, resets) waits until the handler returns.
 */
const SERVED_WHILE_WAITING = new Set<number>([
  R.ADD_MEM_REG,
  R.REM_MEM_REG,
  R.SET_MEM_TABLE,
  R.GET_FEATURES,
  R.GET_PROTOCOL_FEATURES,
  R.GET_QUEUE_NUM,
  R.GET_MAX_MEM_SLOTS,
  R.GET_STATUS,
  R.GET_CONFIG,
  R.GET_SHMEM_CONFIG,
]);

export class Session implements VringObserver {
  private readonly conn: Connection;
  private readonly backend: VhostUserBackend;
  private readonly handler: ChainHandler;
  /** Queues with work to do before the next wait (kicked, enabled, or over their budget). */
  private readonly pending: Uint8Array;
  private anyPending = false;
  /** Queues that got used entries from deferred completions. */
  private readonly completed: Uint8Array;
  private readonly pollWindow = new PollWindow();
  /** When the rings went quiet (performance.now()), or -1 while requests are flowing. */
  private idleSince = -1;
  /** The DAX window's mappings; null when no window is offered. */
  private readonly mappings: WindowMappings | null;
  /** Front-end messages read while a back-end request was outstanding, to serve in order. */
  private readonly heldBack: VhostUserMessage[] = [];
  /** One of them awaits its answer: no chain is taken until it has it. */
  private blocked = false;

  constructor(
    fd: number,
    private readonly epoll: Epoll,
    /** The first token of this export's range in the shared epoll set (tokens.ts). */
    private readonly tokenBase: number,
    options: DeviceOptions,
    createHandler: ChainHandlerFactory,
    private readonly log: Logger,
    /** The other exports on this thread (a DAX map's wait serves them too). */
    readonly neighbours?: Neighbours,
  ) {
    this.conn = new Connection(fd);
    const queues = 1 + (options.requestQueues ?? 1);
    this.pending = new Uint8Array(queues);
    this.completed = new Uint8Array(queues);
    const windowSize = options.shmemSizes?.[0] ?? 0;
    this.mappings = windowSize > 0 ? new WindowMappings(windowSize) : null;
    this.backend = new VhostUserBackend(
      this.conn,
      {
        requestQueues: queues - 1,
        tag: options.tag,
        ...(options.shmemSizes ? { shmemSizes: options.shmemSizes } : {}),
      },
      this,
      log,
    );
    this.handler = createHandler(
      (chain, queue, written) => this.complete(chain, queue, written),
      () => this.backendRequests(),
    );
    epoll.add(fd, EPOLLIN | EPOLLRDHUP, tokenBase + TOKEN_SOCKET);
  }

  /** Handles socket readiness; returns false when the front-end is gone. */
  onSocket(events: number): boolean {
    this.serveHeldBack();
    if ((events & EPOLLIN) !== 0) {
      const msg = this.conn.receive();
      if (msg === null) return false;
      this.backend.handle(msg);
      return true;
    }
    return (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) === 0;
  }

  onKick(index: number): void {
    const vring = this.backend.vrings[index];
    if (vring === undefined || vring.kickFd < 0) return;
    if (this.idleSince >= 0) {
      this.pollWindow.waited(performance.now() - this.idleSince);
      this.idleSince = -1;
    }
    this.markPending(index);
  }

  /** Runs after every wake-up: processes queues, polls the handler; returns the next timeout. */
  afterWake(): number {
    const worked = this.anyPending;
    if (this.anyPending) {
      this.anyPending = false;
      for (let i = 0; i < this.pending.length; i++) {
        if (this.pending[i] === 1) {
          this.pending[i] = 0;
          this.processQueue(i);
        }
      }
    }
    // Spin before poll(): chains handled while spinning may have been deferred, and poll()'s
    // timeout must account for them.
    if (worked && !this.anyPending) this.spin();
    const timeout = this.handler.poll();
    this.flushCompletions();
    // Held back while a handler waited: the socket may have nothing more to wake us for them.
    this.serveHeldBack();
    return this.anyPending ? 0 : timeout;
  }

  close(): void {
    // The back-end resets the handler (resetDevice) before it unmaps guest memory.
    this.backend.close();
    for (const msg of this.heldBack.splice(0)) closeAll(msg.fds);
    this.blocked = false;
    this.epoll.remove(this.conn.fd);
    this.conn.close();
  }

  watchKick(index: number, fd: number): void {
    // Edge-triggered: every kick (eventfd write) is reported once, so the counter never needs a
    // read(2) to be reset; it cannot realistically reach its 2^64 limit.
    this.epoll.add(fd, EPOLLIN | EPOLLET, this.tokenBase + TOKEN_KICK_BASE + index);
  }

  unwatchKick(_index: number, fd: number): void {
    this.epoll.remove(fd);
  }

  queueRunnable(index: number): void {
    this.markPending(index);
  }

  resetDevice(): void {
    this.handler.reset();
  }

  get frontendBlocked(): boolean {
    return this.blocked;
  }

  serveFrontendMessage(): boolean {
    const msg = this.conn.receive();
    if (msg === null) return false;
    // Once one message waits, the ones after it wait too: the front-end's order is kept.
    if (this.heldBack.length === 0 && SERVED_WHILE_WAITING.has(msg.request)) {
      this.backend.handle(msg);
    } else {
      this.heldBack.push(msg);
      if (this.backend.awaitsReply(msg)) this.blocked = true;
    }
    return true;
  }

  private serveHeldBack(): void {
    for (let msg = this.heldBack.shift(); msg !== undefined; msg = this.heldBack.shift()) this.backend.handle(msg);
    this.blocked = false;
  }

  /** DAX needs the channel, acknowledged requests and a negotiated shared-memory region. */
  private backendRequests(): BackendRequests | null {
    const channel = this.backend.backendChannel;
    if (channel === null || !channel.acknowledged || !this.backend.shmemNegotiated || this.mappings === null)
      return null;
    return new ShmemRequests(channel, this.mappings, this.log);
  }

  /**
   * Busy-polls the rings for the poll window with kicks suppressed, handling what arrives; stops
   * when the window passes quietly, or after SPIN_SLICE_MS of work so the socket gets its turn.
   * Then asks for kicks again and takes what slipped in before that.
   */
  private spin(): void {
    const vrings = this.backend.vrings;
    const start = performance.now();
    let quietSince = start;
    if (this.pollWindow.ms > 0) {
      for (const v of vrings) if (v.runnable) v.queue.suppressKicks();
      while (!this.blocked) {
        const now = performance.now();
        let found = false;
        for (let i = 0; i < vrings.length; i++) {
          const v = vrings[i]!;
          if (!v.runnable || !v.queue.hasAvailable()) continue;
          if (!found) this.pollWindow.waited(now - quietSince);
          found = true;
          this.processQueue(i);
        }
        if (found) {
          quietSince = performance.now();
          if (quietSince - start > SPIN_SLICE_MS) break;
        } else if (now - quietSince >= this.pollWindow.ms) {
          break;
        } else {
          schedYield();
        }
      }
    }
    for (let i = 0; i < vrings.length; i++) {
      if (vrings[i]!.runnable && vrings[i]!.queue.wantKicks()) this.markPending(i);
    }
    this.idleSince = this.anyPending ? -1 : quietSince;
  }

  private markPending(index: number): void {
    this.pending[index] = 1;
    this.anyPending = true;
  }

  /**
   * Pops and handles up to a ring's worth of chains, then signals the driver once: a signal per
   * chain would wake the driver for every answer (a cross-CPU wake-up each), while it can refill
   * the ring in one go; busy polling (spin) overlaps its refill with our work instead.
   */
  private processQueue(index: number): void {
    const vring = this.backend.vrings[index]!;
    if (!vring.runnable) return;
    const queue = vring.queue;
    // A ring's worth of heads per round, malformed ones included.
    for (let budget = vring.size; budget > 0 && !this.blocked; ) {
      const chain = queue.pop(budget);
      budget -= queue.lastPopHeads;
      if (chain === null) break;
      const written = this.runHandler(chain, index);
      if (written === DEFERRED) continue;
      if (written === REQUEUED) {
        this.requeue(index, chain);
        break;
      }
      // A memory change served while the handler waited restarts the ring; if it could not
      // restart, the answer has nowhere to go.
      if (queue.isReady) queue.pushUsed(chain.head, written);
      else queue.abandon(chain.head);
    }
    // Over budget with heads left: come back after the next wait, so that the socket and the other
    // queues get a turn.
    if (queue.hasAvailable()) this.markPending(index);
    if (queue.takeNotification() && vring.callFd >= 0) signal(vring.callFd);
  }

  private runHandler(chain: DescriptorChain, index: number): number {
    let written: number;
    try {
      written = this.handler.handle(chain, index);
    } catch (err) {
      this.log.error({ queue: index, err }, 'chain handler threw; chain answered with 0 bytes');
      return 0;
    }
    if (written === DEFERRED || written === REQUEUED) return written;
    const max = writableBytes(chain);
    if (!Number.isInteger(written) || written < 0 || written > max) {
      this.log.error({ queue: index, written, max }, 'chain handler reported an impossible length; clamped');
      return Math.min(Math.max(0, Math.floor(written) || 0), max);
    }
    return written;
  }

  /**
   * Puts the chain back as the ring's next (it was the last one taken), unanswered: a ring stop
   * reports it as not taken, and a restarted or still running ring serves it again.
   */
  private requeue(index: number, chain: DescriptorChain): void {
    // Held-back messages cannot have reset or resized the ring meanwhile: a failure is a bug here.
    if (!this.backend.vrings[index]!.unpop(chain))
      throw new Error(`queue ${index}: head ${chain.head} cannot be put back: it is not the chain taken last`);
    this.log.info({ queue: index, head: chain.head }, 'request put back: the front-end waits on us while it maps');
  }

  private complete(chain: DescriptorChain, index: number, written: number): void {
    const vring = this.backend.vrings[index];
    if (vring === undefined) {
      this.log.error({ queue: index, head: chain.head }, 'deferred completion for a queue that does not exist dropped');
      return;
    }
    if (vring.queue.releaseOrphan(chain)) {
      this.log.warn({ queue: index, head: chain.head }, 'deferred completion from before the ring was reset dropped');
      return;
    }
    if (!vring.queue.isReady) {
      vring.queue.abandon(chain.head);
      this.log.warn({ queue: index, head: chain.head }, 'deferred completion for a stopped queue dropped');
      return;
    }
    vring.queue.pushUsed(chain.head, Math.min(written, writableBytes(chain)));
    this.completed[index] = 1;
  }

  private flushCompletions(): void {
    for (let i = 0; i < this.completed.length; i++) {
      if (this.completed[i] === 0) continue;
      this.completed[i] = 0;
      const vring = this.backend.vrings[i]!;
      if (vring.queue.takeNotification() && vring.callFd >= 0) signal(vring.callFd);
    }
  }
}
