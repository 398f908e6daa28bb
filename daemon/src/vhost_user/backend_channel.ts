// The back-end → front-end channel (SET_BACKEND_REQ_FD, formerly SET_SLAVE_REQ_FD): how the
// back-end asks the VMM to map file ranges into a VIRTIO shared-memory region (DAX).
// While a request awaits its reply, the front-end socket keeps being served: upstream QEMU 11.1
// turns a writable mapping into guest memory and announces it (ADD_MEM_REG) to every back end, us
// included, and blocks until that is answered, possibly before it answers our SHMEM_MAP. (Our
// QEMU, vmm/patches, maps in place and announces nothing.)
// QEMU serves this channel only from its main loop, so it never answers while it waits for an
// answer of ours (a ring stop, GET_VRING_BASE) that is held back behind the request: the wait is
// then abandoned at once instead of running into the timeout. Replies carry no sequence number,
// only their order: a request given up (abandoned, timed out, or its wait broken off) still
// counts as unanswered, and the next request reads and drops its reply before its own. A
// front-end that never sends such a reply leaves every later request waiting into its timeout,
// until the channel is replaced.
import { POLLIN, PollSet } from '../sys/poll';
import { type Connection, DEFAULT_IO_TIMEOUT_MS, readU64Payload } from './connection';
import { FrontendWaitingError, VhostUserError } from './errors';
import { BackendRequest, FLAG_NEED_REPLY, FLAG_REPLY, Layout, backendRequestName } from './protocol';

export interface ShmemMapping {
  readonly shmid: number;
  readonly fdOffset: number;
  readonly shmOffset: number;
  readonly len: number;
  /** SHMEM_MAP_READ_WRITE or 0 (read-only). */
  readonly flags: number;
}

/** The front-end socket, served one message at a time while a request awaits its reply. */
export interface FrontendPump {
  readonly fd: number;
  /** Reads and serves (or queues) one message; false once the front-end has gone. */
  serveOne(): boolean;
  /** A message held back until the request is answered awaits its own answer: the front-end is stuck on it. */
  readonly blocked: boolean;
  /** The other devices on this thread, whose front-ends QEMU may also block on meanwhile. */
  readonly neighbours?: Neighbours;
}

/**
 * Devices sharing the waiting one's thread. QEMU announces a new mapping to every vhost-user back
 * end of the VM and waits for each answer before it answers our request: the other exports'
 * sockets must be served during the wait too.
 */
export interface Neighbours {
  /** Readable when any of them has something to serve (the device thread's epoll fd). */
  readonly fd: number;
  /** Serves what is ready, without blocking. */
  serveReady(): void;
}

export class BackendChannel {
  private readonly waitSet: PollSet | null;
  private readonly ownSet: PollSet;
  /** Requests sent whose replies are not read yet: replies come in order, the oldest first. */
  private unanswered = 0;

  constructor(
    private readonly conn: Connection,
    /** REPLY_ACK was negotiated: every request waits for the front-end's verdict. */
    private readonly replyAck: boolean,
    private readonly frontend: FrontendPump | null = null,
    private readonly timeoutMs: number = DEFAULT_IO_TIMEOUT_MS,
  ) {
    this.ownSet = new PollSet([conn.fd], POLLIN);
    const neighbours = frontend?.neighbours;
    this.waitSet =
      frontend === null
        ? null
        : new PollSet(neighbours ? [conn.fd, frontend.fd, neighbours.fd] : [conn.fd, frontend.fd], POLLIN);
  }

  /** Every request waits for the front-end's verdict (REPLY_ACK). */
  get acknowledged(): boolean {
    return this.replyAck;
  }

  /**
   * Sends a request; returns the front-end's u64 status (0 = success; 0 when unacknowledged).
   * Throws when no answer can come in time; the front-end may still carry the request out.
   */
  request(code: number, payload: Uint8Array, fds: readonly number[] = []): bigint {
    if (this.frontend?.blocked === true) throw this.stuck(code, 'not sent');
    this.conn.send(code, this.replyAck ? FLAG_NEED_REPLY : 0, payload, fds);
    if (!this.replyAck) return 0n;
    this.unanswered++;
    for (;;) {
      this.awaitReply(code);
      const reply = this.conn.receive();
      if (reply === null)
        throw new VhostUserError(`front-end closed the back-end channel during ${backendRequestName(code)}`);
      if ((reply.flags & FLAG_REPLY) !== 0 && --this.unanswered > 0) continue;
      if (reply.request !== code || (reply.flags & FLAG_REPLY) === 0) {
        throw new VhostUserError(
          `expected a reply to ${backendRequestName(code)}, got request ${reply.request} flags 0x${reply.flags.toString(16)}`,
        );
      }
      return readU64Payload(reply);
    }
  }

  /** Returns once a reply is readable, serving the front-end meanwhile; throws after the timeout. */
  private awaitReply(code: number): void {
    const deadline = Date.now() + this.timeoutMs;
    let poll = this.waitSet ?? this.ownSet;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new VhostUserError(`no reply to ${backendRequestName(code)} within ${this.timeoutMs} ms`);
      // 0: a timeout or EINTR; the deadline above tells which.
      if (poll.wait(left) === 0) continue;
      if (poll.revents(0) !== 0) return;
      // A front-end that left cannot answer either: its hang-up on our channel ends the wait.
      if (poll.revents(1) !== 0 && !this.frontend?.serveOne()) poll = this.ownSet;
      else if (poll.size > 2 && poll.revents(2) !== 0) this.frontend?.neighbours?.serveReady();
      if (this.frontend?.blocked === true) throw this.stuck(code, 'its reply will be discarded');
    }
  }

  private stuck(code: number, outcome: string): FrontendWaitingError {
    return new FrontendWaitingError(
      `${backendRequestName(code)} given up (${outcome}): the front-end waits for an answer held back behind it (a ring stop or reset)`,
      { request: code },
    );
  }

  /** SHMEM_MAP: map `len` bytes of `fd` at `fdOffset` into shared-memory region `shmid`. */
  shmemMap(m: ShmemMapping, fd: number): bigint {
    return this.request(BackendRequest.SHMEM_MAP, shmemPayload(m), [fd]);
  }

  shmemUnmap(m: Omit<ShmemMapping, 'fdOffset' | 'flags'>): bigint {
    return this.request(BackendRequest.SHMEM_UNMAP, shmemPayload({ ...m, fdOffset: 0, flags: 0 }));
  }

  close(): void {
    this.conn.close();
  }
}

function shmemPayload(m: ShmemMapping): Uint8Array {
  const payload = new Uint8Array(Layout.SHMEM_MMAP_SIZE);
  const v = new DataView(payload.buffer);
  v.setUint8(0, m.shmid);
  v.setBigUint64(8, BigInt(m.fdOffset), true);
  v.setBigUint64(16, BigInt(m.shmOffset), true);
  v.setBigUint64(24, BigInt(m.len), true);
  v.setBigUint64(32, BigInt(m.flags), true);
  return payload;
}
