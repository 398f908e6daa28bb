// The front-end's end of the vhost-user socket: requests, replies and REPLY_ACK, as QEMU sends
// them. Synchronous: every call blocks until the back-end answers or the I/O timeout expires.
import { SysError } from '@vfs/daemon/sys';
import { connectUnix } from '@vfs/daemon/sys';
import { Connection, readU64Payload, u64Payload, type VhostUserMessage } from '@vfs/daemon/vhost-user';
import { VhostUserError } from '@vfs/daemon/vhost-user';
import { FLAG_NEED_REPLY, FLAG_REPLY, frontendRequestName } from '@vfs/daemon/vhost-user';

const ENOENT = 2;
const ECONNREFUSED = 111;

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class VhostUserClient {
  /** REPLY_ACK was negotiated: set-type requests carry NEED_REPLY and are acknowledged. */
  replyAck = false;

  constructor(readonly conn: Connection) {}

  /** Connects to `path`, retrying while the back-end is not listening yet. */
  static connect(path: string, timeoutMs: number, ioTimeoutMs: number): VhostUserClient {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return new VhostUserClient(new Connection(connectUnix(path), ioTimeoutMs));
      } catch (err) {
        const retry = err instanceof SysError && (err.errno === ENOENT || err.errno === ECONNREFUSED);
        if (!retry || Date.now() > deadline) throw err;
        sleepSync(10);
      }
    }
  }

  /** A request the back-end always answers (GET_*): returns the reply payload. */
  get(request: number, payload?: Uint8Array): Uint8Array {
    this.conn.send(request, 0, payload);
    return this.receiveReply(request).payload;
  }

  getU64(request: number): bigint {
    return new DataView(this.get(request).buffer).getBigUint64(0, true);
  }

  /** A request without a reply; under REPLY_ACK, waits for the ack and throws on failure. */
  set(request: number, payload?: Uint8Array, fds: readonly number[] = []): void {
    this.conn.send(request, this.replyAck ? FLAG_NEED_REPLY : 0, payload, fds);
    if (!this.replyAck) return;
    const status = readU64Payload(this.receiveReply(request));
    if (status !== 0n)
      throw new VhostUserError(`back-end refused ${frontendRequestName(request)} (status ${status})`, { request });
  }

  setU64(request: number, value: bigint | number, fds: readonly number[] = []): void {
    this.set(request, u64Payload(value), fds);
  }

  receiveReply(request: number): VhostUserMessage {
    const reply = this.conn.receive();
    if (reply === null)
      throw new VhostUserError(`back-end closed the connection instead of answering ${frontendRequestName(request)}`);
    if (reply.request !== request || (reply.flags & FLAG_REPLY) === 0) {
      throw new VhostUserError(
        `expected the reply to ${frontendRequestName(request)}, got ${frontendRequestName(reply.request)} flags 0x${reply.flags.toString(16)}`,
      );
    }
    return reply;
  }

  close(): void {
    this.conn.close();
  }
}
