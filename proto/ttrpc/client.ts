// The ttrpc client: typed calls built from ts-proto generic definitions, multiplexed on one
// connection (odd, increasing stream ids). Calls still pending when the connection goes away are
// rejected with Unavailable naming the call and the reason.

import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Request } from '../gen/ttrpc/request';
import { ClientCall } from './client_call';
import { Code } from './codes';
import { errorMessage, TtrpcError } from './errors';
import { FrameChannel } from './frame_channel';
import { FLAG_NO_DATA, FLAG_REMOTE_CLOSED, FLAG_REMOTE_OPEN, type FrameHeader, MessageType } from './framing';
import { stderrLogger, type TtrpcLogger } from './logger';
import { metadataToKeyValues } from './metadata';
import type { AnyMethodDefinition, CallOptions, PartialMessage, ServiceClient, ServiceDefinition } from './service';

export interface TtrpcClientOptions {
  readonly logger?: TtrpcLogger;
}

type RequestSource = AsyncIterable<PartialMessage<unknown>> | Iterable<PartialMessage<unknown>>;

/** Stream ids are u32 and never reused on a connection. */
const MAX_STREAM_ID = 0xffffffff;

export class TtrpcClient {
  /** Resolves with the reason once the connection is gone. */
  readonly closed: Promise<string>;
  private readonly channel: FrameChannel;
  private readonly calls = new Map<number, ClientCall>();
  private readonly log: TtrpcLogger;
  private nextStreamId = 1;
  private reportClosed: (reason: string) => void = () => undefined;

  constructor(duplex: Duplex, options: TtrpcClientOptions = {}) {
    this.log = options.logger ?? stderrLogger;
    this.closed = new Promise((resolve) => {
      this.reportClosed = resolve;
    });
    this.channel = new FrameChannel(duplex, {
      frame: (header, payload) => this.onFrame(header, payload),
      oversize: (header) => this.onOversize(header),
      closed: (reason) => this.onChannelClosed(reason),
    });
  }

  /** Connects to a ttrpc server on a unix socket. */
  static async connect(socketPath: string, options: TtrpcClientOptions = {}): Promise<TtrpcClient> {
    return new TtrpcClient(await TtrpcClient.connectSocket(socketPath), options);
  }

  /** The connected socket `connect` would use, for a caller that keeps a hold of it. */
  static connectSocket(socketPath: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      socket.once('error', (err) =>
        reject(new TtrpcError(Code.Unavailable, `ttrpc: cannot connect to ${socketPath}: ${err.message}`)),
      );
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
    });
  }

  /** A typed client for one service: `client.service(TaskDefinition).state({ id: 'c1' })`. */
  service<D extends ServiceDefinition>(definition: D): ServiceClient<D> {
    const methods: Record<string, unknown> = {};
    for (const [key, method] of Object.entries(definition.methods)) {
      methods[key] = this.caller(definition.fullName, method);
    }
    return methods as ServiceClient<D>;
  }

  /** Closes the connection; pending calls are rejected with Unavailable. */
  close(): void {
    this.channel.close('client closed the connection');
  }

  private caller(service: string, method: AnyMethodDefinition): unknown {
    if (!method.requestStream) {
      return (request: PartialMessage<unknown>, options: CallOptions = {}) => {
        const call = this.start(service, method, options, request);
        return call.result ?? call.responses;
      };
    }
    return (requests: RequestSource, options: CallOptions = {}) => {
      const call = this.start(service, method, options, undefined);
      void this.pumpRequests(call, method, requests);
      return call.result ?? call.responses;
    };
  }

  /** Sends the Request frame; `request` is the single message of a method without request stream. */
  private start(
    service: string,
    method: AnyMethodDefinition,
    options: CallOptions,
    request: PartialMessage<unknown> | undefined,
  ): ClientCall {
    const streamId = this.nextStreamId;
    const call = new ClientCall(streamId, `${service}/${method.name}`, method, options, () =>
      this.calls.delete(streamId),
    );
    if (this.channel.isClosed) {
      call.fail(new TtrpcError(Code.Unavailable, `ttrpc: cannot call ${call.name}: ${this.channel.reason}`));
      return call;
    }
    if (streamId > MAX_STREAM_ID) {
      call.fail(
        new TtrpcError(
          Code.ResourceExhausted,
          `ttrpc: cannot call ${call.name}: stream ids of this connection are used up`,
        ),
      );
      return call;
    }
    let envelope: Uint8Array;
    try {
      envelope = this.encodeRequest(service, method, options, request);
    } catch (err) {
      call.fail(
        new TtrpcError(Code.InvalidArgument, `ttrpc: cannot encode the request of ${call.name}: ${errorMessage(err)}`),
      );
      return call;
    }
    this.nextStreamId += 2;
    this.calls.set(streamId, call);
    this.channel
      .send(streamId, MessageType.Request, requestFlags(method), envelope)
      .catch((err: unknown) => call.fail(asTtrpcError(err)));
    return call;
  }

  private encodeRequest(
    service: string,
    method: AnyMethodDefinition,
    options: CallOptions,
    request: PartialMessage<unknown> | undefined,
  ): Uint8Array {
    const payload = request === undefined ? new Uint8Array(0) : encodeMessage(method, request);
    return Request.encode({
      service,
      method: method.name,
      payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      timeoutNano: options.timeoutMs === undefined ? 0 : Math.round(options.timeoutMs * 1e6),
      metadata: metadataToKeyValues(options.metadata),
    }).finish();
  }

  /**
   * Streams the caller's requests as Data frames, then closes our side of the stream, also when
   * the source failed: ttrpc has no cancel, and the server's handler would otherwise wait forever.
   */
  private async pumpRequests(call: ClientCall, method: AnyMethodDefinition, requests: RequestSource): Promise<void> {
    let failure: TtrpcError | undefined;
    try {
      for await (const request of requests) {
        if (call.isDone) {
          return;
        }
        await this.channel.send(call.streamId, MessageType.Data, 0, encodeMessage(method, request));
      }
    } catch (err) {
      failure = asTtrpcError(err, `ttrpc: ${call.name}: sending the request stream failed`);
    }
    if (call.isDone) {
      return;
    }
    await this.channel
      .send(call.streamId, MessageType.Data, FLAG_REMOTE_CLOSED | FLAG_NO_DATA, new Uint8Array(0))
      .catch((err: unknown) => {
        failure ??= asTtrpcError(err);
      });
    if (failure !== undefined) {
      call.fail(failure);
    }
  }

  private onFrame(header: FrameHeader, payload: Buffer): void {
    const call = this.calls.get(header.streamId);
    if (call !== undefined) {
      call.receive(header.type, header.flags, payload);
    } else if (header.streamId < this.nextStreamId) {
      // ttrpc cannot cancel: a server keeps answering calls we gave up on (timeout, break).
      this.log.debug({ streamId: header.streamId, type: header.type }, 'ttrpc: dropping a frame of a finished call');
    } else {
      this.log.warn(
        { streamId: header.streamId, type: header.type },
        'ttrpc: server sent a frame on a stream never opened',
      );
    }
  }

  private onOversize(header: FrameHeader): void {
    const message = `ttrpc: the server sent a message of ${header.length} bytes, over the maximum message size`;
    const call = this.calls.get(header.streamId);
    if (call === undefined) {
      this.log.warn({ streamId: header.streamId, length: header.length }, message);
      return;
    }
    call.fail(new TtrpcError(Code.ResourceExhausted, `${message} (${call.name})`));
  }

  private onChannelClosed(reason: string): void {
    for (const call of [...this.calls.values()]) {
      call.fail(new TtrpcError(Code.Unavailable, `ttrpc: ${call.name} interrupted: ${reason}`));
    }
    this.reportClosed(reason);
  }
}

/** unary 0; server stream: we send nothing more (remote closed); request stream: more to come. */
function requestFlags(method: AnyMethodDefinition): number {
  if (method.requestStream) {
    return FLAG_REMOTE_OPEN;
  }
  return method.responseStream ? FLAG_REMOTE_CLOSED : 0;
}

function encodeMessage(method: AnyMethodDefinition, message: PartialMessage<unknown>): Uint8Array {
  return method.requestType.encode(method.requestType.fromPartial(message)).finish();
}

function asTtrpcError(err: unknown, context?: string): TtrpcError {
  if (err instanceof TtrpcError) {
    return err;
  }
  const message = context === undefined ? errorMessage(err) : `${context}: ${errorMessage(err)}`;
  return new TtrpcError(Code.Unknown, message, { cause: err });
}
