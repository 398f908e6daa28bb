// The calls of one client on a server connection, and the stream ids it has used. A socket
// carries one client for its life, but the agent's virtio-serial port is one byte stream for the
// VM's life: a host that reconnects before the guest has noticed the disconnect continues on the
// same stream, starting again at stream id 1 (server_connection.ts then opens a new session).

import type { ServerCall } from './server_call';

/** Every client's first stream (Go's ttrpc client starts at 1 and adds 2 per call). */
export const FIRST_STREAM_ID = 1;

export class ServerSession {
  private readonly calls = new Map<number, ServerCall>();
  private lastStreamId = 0;

  /** Whether a Request on this stream id can only come from a new client. */
  isTakenOverBy(streamId: number): boolean {
    return streamId === FIRST_STREAM_ID && this.lastStreamId !== 0;
  }

  /** Records a Request's stream id; false when it does not increase (Go's ttrpc refuses those). */
  claim(streamId: number): boolean {
    if (streamId <= this.lastStreamId) {
      return false;
    }
    this.lastStreamId = streamId;
    return true;
  }

  add(streamId: number, call: ServerCall): void {
    this.calls.set(streamId, call);
  }

  get(streamId: number): ServerCall | undefined {
    return this.calls.get(streamId);
  }

  remove(streamId: number): void {
    this.calls.delete(streamId);
  }

  /** Nobody will read the answers: every running handler is told so through its signal. */
  abandon(reason: string): void {
    for (const call of [...this.calls.values()]) {
      call.abandon(reason);
    }
  }
}
