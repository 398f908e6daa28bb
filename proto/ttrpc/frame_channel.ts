// One ttrpc connection's frame transport over any Node Duplex: a unix socket, a virtio-serial
// port opened as files, or an in-memory pair. Shared by the server and the client side.

import type { Duplex } from 'node:stream';
import { Code } from './codes';
import { TtrpcError } from './errors';
import { encodeFrame, FrameDecoder, type FrameHeader, MAX_PAYLOAD_LENGTH, type MessageType } from './framing';

export interface FrameHandlers {
  frame(header: FrameHeader, payload: Buffer): void;
  oversize(header: FrameHeader): void;
  /** Called once, when the connection is gone for whatever reason. */
  closed(reason: string): void;
}

export class FrameChannel {
  private readonly decoder: FrameDecoder;
  private closeReason: string | undefined;
  private drainWaiters: Array<{ resolve: () => void; reject: (err: TtrpcError) => void }> = [];

  constructor(
    private readonly duplex: Duplex,
    private readonly handlers: FrameHandlers,
  ) {
    this.decoder = new FrameDecoder(handlers);
    duplex.on('data', (chunk: Buffer) => this.receive(chunk));
    duplex.on('drain', () => this.releaseWriters());
    duplex.on('end', () => this.close(this.endReason()));
    duplex.on('error', (err: Error) => this.close(`transport error: ${err.message}`));
    duplex.on('close', () => this.close('connection closed'));
  }

  get isClosed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Why the connection closed, for the errors of calls that were cut off. */
  get reason(): string | undefined {
    return this.closeReason;
  }

  /**
   * Writes one frame. Resolves at once while the transport takes data, or once it has drained,
   * so a sender that awaits each frame never piles up more than the transport's buffer.
   */
  send(streamId: number, type: MessageType, flags: number, payload: Uint8Array): Promise<void> {
    if (this.closeReason !== undefined) {
      return Promise.reject(new TtrpcError(Code.Unavailable, `ttrpc: ${this.closeReason}`));
    }
    if (payload.length > MAX_PAYLOAD_LENGTH) {
      const message = `ttrpc: message of ${payload.length} bytes exceeds the maximum of ${MAX_PAYLOAD_LENGTH}`;
      return Promise.reject(new TtrpcError(Code.ResourceExhausted, message));
    }
    if (this.duplex.write(encodeFrame(streamId, type, flags, payload))) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /** Closes the transport; `closed` is reported with the reason given here. */
  close(reason: string): void {
    if (this.closeReason !== undefined) {
      return;
    }
    this.closeReason = reason;
    const failure = new TtrpcError(Code.Unavailable, `ttrpc: ${reason}`);
    for (const waiter of this.drainWaiters.splice(0)) {
      waiter.reject(failure);
    }
    this.duplex.destroy();
    this.handlers.closed(reason);
  }

  private receive(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
    } catch (err) {
      // A dispatch bug must not leave the connection half-alive: drop it and say why.
      this.close(`internal error handling a frame: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }

  private releaseWriters(): void {
    for (const waiter of this.drainWaiters.splice(0)) {
      waiter.resolve();
    }
  }

  private endReason(): string {
    const pending = this.decoder.pendingBytes;
    return pending > 0
      ? `peer closed the connection in the middle of a frame (${pending} bytes pending)`
      : 'peer closed the connection';
  }
}
