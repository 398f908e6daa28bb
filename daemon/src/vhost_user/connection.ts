// vhost-user framing over a unix stream socket: a 12-byte header (request, flags, size), the
// payload, and fds as SCM_RIGHTS ancillary data on the header's first byte. Both ends use it.
import { closeAll, close } from '../sys/fd';
import { MAX_FDS, receiveWithFds, sendWithFds, setTimeouts } from '../sys/socket';
import { VhostUserError } from './errors';
import { FLAG_REPLY, HEADER_SIZE, MAX_PAYLOAD_SIZE, VERSION, VERSION_MASK } from './protocol';

export interface VhostUserMessage {
  readonly request: number;
  readonly flags: number;
  /** A copy of the payload: exactly `size` bytes. */
  readonly payload: Uint8Array;
  /** Received fds; whoever handles the message owns them and must close those it does not keep. */
  readonly fds: number[];
  /** More than MAX_FDS fds were attached: the extra ones were lost. */
  readonly fdsTruncated: boolean;
}

/** How long a peer may take to finish a message it started, or to answer a request. */
export const DEFAULT_IO_TIMEOUT_MS = 5000;

export class Connection {
  private readonly header = new Uint8Array(HEADER_SIZE);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly out = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD_SIZE);
  private readonly outView = new DataView(this.out.buffer);
  private closed = false;

  constructor(
    readonly fd: number,
    ioTimeoutMs: number = DEFAULT_IO_TIMEOUT_MS,
  ) {
    setTimeouts(fd, ioTimeoutMs);
  }

  /**
   * Reads one message. Returns null when the peer closed the connection between messages.
   * Throws a fatal VhostUserError when the framing is broken (the caller drops the connection).
   */
  receive(): VhostUserMessage | null {
    const head = receiveWithFds(this.fd, this.header, HEADER_SIZE);
    if (head.eof) return null;
    if (head.length < HEADER_SIZE) {
      closeAll(head.fds);
      throw new VhostUserError(
        `truncated header: ${head.length} of ${HEADER_SIZE} bytes${head.timedOut ? ' before the timeout' : ''}`,
        { fatal: true },
      );
    }
    const request = this.headerView.getUint32(0, true);
    const flags = this.headerView.getUint32(4, true);
    const size = this.headerView.getUint32(8, true);
    if (size > MAX_PAYLOAD_SIZE) {
      closeAll(head.fds);
      throw new VhostUserError(`payload of ${size} bytes exceeds ${MAX_PAYLOAD_SIZE}`, { request, fatal: true });
    }
    const payload = new Uint8Array(size);
    if (size > 0) {
      const body = receiveWithFds(this.fd, payload, size);
      head.fds.push(...body.fds);
      if (body.length < size) {
        closeAll(head.fds);
        throw new VhostUserError(`truncated payload: ${body.length} of ${size} bytes`, { request, fatal: true });
      }
    }
    return { request, flags, payload, fds: head.fds, fdsTruncated: head.fdsTruncated };
  }

  /** Sends a request (or, with FLAG_REPLY in `flags`, a reply); the version bits are added here. */
  send(
    request: number,
    flags: number,
    payload: Uint8Array = this.out.subarray(0, 0),
    fds: readonly number[] = [],
  ): void {
    if (payload.length > MAX_PAYLOAD_SIZE) {
      throw new VhostUserError(`refusing to send a ${payload.length}-byte payload`, { request });
    }
    if (fds.length > MAX_FDS) throw new VhostUserError(`refusing to send ${fds.length} fds`, { request });
    this.outView.setUint32(0, request, true);
    this.outView.setUint32(4, (flags & ~VERSION_MASK) | VERSION, true);
    this.outView.setUint32(8, payload.length, true);
    this.out.set(payload, HEADER_SIZE);
    sendWithFds(this.fd, this.out.subarray(0, HEADER_SIZE + payload.length), fds);
  }

  reply(request: number, payload: Uint8Array): void {
    this.send(request, FLAG_REPLY, payload);
  }

  /** Sends raw bytes as they are: for tests that play a hostile peer. */
  sendRaw(bytes: Uint8Array, fds: readonly number[] = []): void {
    sendWithFds(this.fd, bytes, fds);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}

export function u64Payload(value: bigint | number): Uint8Array {
  const payload = new Uint8Array(8);
  new DataView(payload.buffer).setBigUint64(0, BigInt(value), true);
  return payload;
}

export function readU64Payload(msg: VhostUserMessage): bigint {
  if (msg.payload.length < 8) {
    throw new VhostUserError(`expected a u64 payload, got ${msg.payload.length} bytes`, { request: msg.request });
  }
  return new DataView(msg.payload.buffer, msg.payload.byteOffset, 8).getBigUint64(0, true);
}
