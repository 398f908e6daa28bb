// The server side of one ttrpc connection: routes frames to calls, enforces the stream-id rules
// of ttrpc's server.go (odd, increasing) and answers protocol errors on the offending stream,
// keeping the connection up as Go's ttrpc does. One departure: a Request on stream id 1 after
// others is a new client on the same byte stream (a virtio-serial port outlives host
// connections, see server_session.ts), not a reuse; Go's server, whose connections end with
// their client, would refuse it. The previous client's calls are abandoned and the new one is
// served. A real client never reuses an id, so nothing changes for containerd's.

import type { Duplex } from 'node:stream';
import { Request, Response } from '../gen/ttrpc/request';
import type { Status } from '../gen/google/rpc/status';
import { Code, codeName } from './codes';
import { errorMessage, TtrpcError } from './errors';
import { FrameChannel } from './frame_channel';
import { FLAG_NO_DATA, FLAG_REMOTE_CLOSED, type FrameHeader, MAX_PAYLOAD_LENGTH, MessageType } from './framing';
import type { TtrpcLogger } from './logger';
import type { ServiceRegistry } from './registry';
import { type CallResponder, ServerCall } from './server_call';
import { FIRST_STREAM_ID, ServerSession } from './server_session';
import { statusFromError } from './status';

export class ServerConnection {
  private readonly channel: FrameChannel;
  private session = new ServerSession();

  constructor(
    duplex: Duplex,
    private readonly registry: ServiceRegistry,
    private readonly log: TtrpcLogger,
    private readonly onClosed: (connection: ServerConnection) => void,
  ) {
    this.channel = new FrameChannel(duplex, {
      frame: (header, payload) => this.onFrame(header, payload),
      oversize: (header) => this.onOversize(header),
      closed: (reason) => this.onChannelClosed(reason),
    });
  }

  /** Closes the connection; running handlers see their signal aborted. */
  close(reason: string): void {
    this.channel.close(reason);
  }

  private onFrame(header: FrameHeader, payload: Buffer): void {
    if (header.streamId % 2 !== 1) {
      this.reject(
        header.streamId,
        Code.InvalidArgument,
        `stream id ${header.streamId} must be odd for client-initiated streams`,
      );
      return;
    }
    switch (header.type) {
      case MessageType.Request:
        this.onRequest(header, payload);
        return;
      case MessageType.Data:
        this.onData(header, payload);
        return;
      default:
        // Future message types are ignored for compatibility, as Go's ttrpc does.
        this.log.warn({ streamId: header.streamId, type: header.type }, 'ttrpc: ignoring a frame of unknown type');
    }
  }

  private onOversize(header: FrameHeader): void {
    const message = `message length ${header.length} exceeds the maximum message size of ${MAX_PAYLOAD_LENGTH}`;
    this.log.warn({ streamId: header.streamId, length: header.length }, `ttrpc: ${message}; skipped`);
    this.reject(header.streamId, Code.ResourceExhausted, message);
  }

  private onRequest(header: FrameHeader, payload: Buffer): void {
    if (this.session.isTakenOverBy(header.streamId)) {
      this.startSession();
    }
    const session = this.session;
    if (!session.claim(header.streamId)) {
      this.reject(
        header.streamId,
        Code.InvalidArgument,
        `stream id ${header.streamId} cannot be reused and must increase`,
      );
      return;
    }
    let request: Request;
    try {
      request = Request.decode(payload);
    } catch (err) {
      this.reject(header.streamId, Code.InvalidArgument, `cannot decode the request envelope: ${errorMessage(err)}`);
      return;
    }
    let call: ServerCall;
    try {
      const method = this.registry.lookup(request.service, request.method);
      call = new ServerCall(method, request, header.flags, this.responder(header.streamId), () =>
        session.remove(header.streamId),
      );
    } catch (err) {
      this.respond(header.streamId, statusFromError(err));
      return;
    }
    session.add(header.streamId, call);
    call.start();
  }

  /** Abandoning first: an abandoned call sends nothing more, so no old answer reaches the new client. */
  private startSession(): void {
    this.log.warn(
      { streamId: FIRST_STREAM_ID },
      'ttrpc: a new client took over the connection (a request on the first stream id again); abandoning the calls of the previous one',
    );
    this.session.abandon('a new client took over the connection');
    this.session = new ServerSession();
  }

  private onData(header: FrameHeader, payload: Buffer): void {
    const call = this.session.get(header.streamId);
    if (call === undefined) {
      // A late close of a stream that already ended is normal; anything else is a client bug.
      const lateClose = (header.flags & FLAG_REMOTE_CLOSED) !== 0 && (header.flags & FLAG_NO_DATA) !== 0;
      if (!lateClose) {
        this.reject(header.streamId, Code.InvalidArgument, `stream ${header.streamId} is not active`);
      }
      return;
    }
    call.receiveData(header.flags, payload);
  }

  private responder(streamId: number): CallResponder {
    return {
      response: (status, payload) => this.respond(streamId, status, payload),
      endStream: () => this.sendFinal(streamId, MessageType.Data, FLAG_REMOTE_CLOSED | FLAG_NO_DATA, new Uint8Array(0)),
      data: (payload) => this.channel.send(streamId, MessageType.Data, 0, payload),
    };
  }

  private reject(streamId: number, code: Code, message: string): void {
    this.respond(streamId, { code, message: `ttrpc: ${message}`, details: [] });
  }

  private respond(streamId: number, status: Status, payload: Uint8Array = new Uint8Array(0)): void {
    let encoded = Response.encode({ status, payload: asBuffer(payload) }).finish();
    if (encoded.length > MAX_PAYLOAD_LENGTH) {
      const message = `ttrpc: response of ${encoded.length} bytes exceeds the maximum message size of ${MAX_PAYLOAD_LENGTH}`;
      encoded = Response.encode({
        status: statusFromError(new TtrpcError(Code.ResourceExhausted, message)),
        payload: Buffer.alloc(0),
      }).finish();
    }
    if (status.code !== Code.OK) {
      this.log.debug({ streamId, code: codeName(status.code), message: status.message }, 'ttrpc: call failed');
    }
    this.sendFinal(streamId, MessageType.Response, 0, encoded);
  }

  private sendFinal(streamId: number, type: MessageType, flags: number, payload: Uint8Array): void {
    this.channel.send(streamId, type, flags, payload).catch((err: unknown) => {
      this.log.warn({ streamId, err: errorMessage(err) }, 'ttrpc: could not send the final frame of a call');
    });
  }

  private onChannelClosed(reason: string): void {
    this.session.abandon(reason);
    this.log.debug({ reason }, 'ttrpc: server connection closed');
    this.onClosed(this);
  }
}

/** A Buffer view of the same bytes (ts-proto's node output types `bytes` as Buffer). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
