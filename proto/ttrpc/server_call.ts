// One call on the server side, from its Request frame to its final frame: decodes the request,
// runs the handler, enforces the client's deadline and writes the answer as ttrpc 1.2 does
// (a Response frame, or for streamed responses Data frames ending with remote-closed|no-data).

import type { Request } from '../gen/ttrpc/request';
import type { Status } from '../gen/google/rpc/status';
import { AsyncQueue } from './async_queue';
import type { CallContext } from './call_context';
import { Code } from './codes';
import { errorMessage, TtrpcError } from './errors';
import { FLAG_NO_DATA, FLAG_REMOTE_CLOSED, FLAG_REMOTE_OPEN } from './framing';
import { metadataFromKeyValues } from './metadata';
import type { RegisteredMethod } from './registry';
import type { PartialMessage, ServerStream } from './service';
import { OK_STATUS, statusFromError } from './status';

/** How a call writes its frames; implemented by the connection, which logs failed final frames. */
export interface CallResponder {
  /** The final Response frame of a call. */
  response(status: Status, payload: Uint8Array): void;
  /** The final Data frame of a streamed response (remote-closed | no-data). */
  endStream(): void;
  /** One streamed response message; rejects when it cannot be sent. */
  data(payload: Uint8Array): Promise<void>;
}

type UnaryInvoke = (request: unknown, ctx: CallContext) => Promise<PartialMessage<unknown>>;
type ServerStreamInvoke = (request: unknown, stream: ServerStream<unknown>, ctx: CallContext) => Promise<void>;
type ClientStreamInvoke = (requests: AsyncIterable<unknown>, ctx: CallContext) => Promise<PartialMessage<unknown>>;
type BidiInvoke = (requests: AsyncIterable<unknown>, stream: ServerStream<unknown>, ctx: CallContext) => Promise<void>;

export class ServerCall {
  private readonly controller = new AbortController();
  private readonly ctx: CallContext;
  /** Incoming messages, for methods with a streamed request. */
  private readonly requests: AsyncQueue<unknown> | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    private readonly method: RegisteredMethod,
    private readonly request: Request,
    private readonly requestFlags: number,
    private readonly responder: CallResponder,
    private readonly onFinished: () => void,
  ) {
    const timeoutMs = request.timeoutNano > 0 ? request.timeoutNano / 1e6 : undefined;
    this.ctx = {
      service: request.service,
      method: request.method,
      metadata: metadataFromKeyValues(request.metadata),
      signal: this.controller.signal,
      deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
    };
    this.requests = method.definition.requestStream ? new AsyncQueue<unknown>() : undefined;
    if (timeoutMs !== undefined) {
      this.deadlineTimer = setTimeout(() => this.expire(timeoutMs), timeoutMs);
    }
  }

  start(): void {
    this.run().then(
      (payload) => this.finish(payload),
      (err: unknown) => this.finishWithError(err, false),
    );
  }

  /** A Data frame from the client for this call. */
  receiveData(flags: number, payload: Buffer): void {
    if (this.requests === undefined) {
      this.finishWithError(
        new TtrpcError(Code.InvalidArgument, `ttrpc: ${this.name} does not take streamed requests`),
        true,
      );
      return;
    }
    if ((flags & FLAG_NO_DATA) === 0) {
      const message = this.decodeRequest(payload);
      if (message instanceof TtrpcError) {
        this.requests.fail(message);
        this.finishWithError(message, true);
        return;
      }
      this.requests.push(message);
    }
    if ((flags & FLAG_REMOTE_CLOSED) !== 0) {
      this.requests.end();
    }
  }

  /** The connection is gone: nobody can be answered, the handler is told through its signal. */
  abandon(reason: string): void {
    if (this.finished) {
      return;
    }
    const err = new TtrpcError(Code.Unavailable, `ttrpc: ${reason}`);
    this.requests?.fail(err);
    this.close(err);
  }

  private get name(): string {
    return `${this.method.service}/${this.method.definition.name}`;
  }

  /** Runs the handler; resolves with the encoded final message, if the method sends one. */
  private async run(): Promise<Uint8Array | undefined> {
    const { definition, handler } = this.method;
    if (!definition.requestStream) {
      const request = this.decodeRequest(this.request.payload);
      if (request instanceof TtrpcError) {
        throw request;
      }
      if (!definition.responseStream) {
        return this.encodeResponse(await (handler as unknown as UnaryInvoke)(request, this.ctx));
      }
      await (handler as unknown as ServerStreamInvoke)(request, this.stream(), this.ctx);
      return undefined;
    }
    const requests = this.openRequestStream();
    if (!definition.responseStream) {
      return this.encodeResponse(await (handler as unknown as ClientStreamInvoke)(requests, this.ctx));
    }
    await (handler as unknown as BidiInvoke)(requests, this.stream(), this.ctx);
    return undefined;
  }

  /** Go's ttrpc treats a non-empty Request payload as the first streamed message. */
  private openRequestStream(): AsyncQueue<unknown> {
    const requests = this.requests as AsyncQueue<unknown>;
    if (this.request.payload.length > 0) {
      const first = this.decodeRequest(this.request.payload);
      if (first instanceof TtrpcError) {
        throw first;
      }
      requests.push(first);
    }
    if ((this.requestFlags & FLAG_REMOTE_OPEN) === 0) {
      requests.end();
    }
    return requests;
  }

  private stream(): ServerStream<unknown> {
    return {
      send: (message) => {
        if (this.finished) {
          return Promise.reject(new TtrpcError(Code.Canceled, `ttrpc: ${this.name} stream is already finished`));
        }
        return this.responder.data(this.encodeResponse(message));
      },
    };
  }

  private decodeRequest(payload: Uint8Array): unknown {
    try {
      return this.method.definition.requestType.decode(payload);
    } catch (err) {
      return new TtrpcError(
        Code.InvalidArgument,
        `ttrpc: cannot decode the request of ${this.name}: ${errorMessage(err)}`,
      );
    }
  }

  private encodeResponse(message: PartialMessage<unknown>): Uint8Array {
    const codec = this.method.definition.responseType;
    // `?? {}`: an untyped caller's handler may resolve with nothing for an Empty response.
    return codec.encode(codec.fromPartial(message ?? {})).finish();
  }

  private finish(payload: Uint8Array | undefined): void {
    if (this.finished) {
      return;
    }
    this.close(undefined);
    if (this.method.definition.responseStream) {
      this.responder.endStream();
    } else {
      this.responder.response(OK_STATUS, payload ?? new Uint8Array(0));
    }
  }

  /** @param abortHandler true when the handler is still running and must be told to stop. */
  private finishWithError(err: unknown, abortHandler: boolean): void {
    if (this.finished) {
      return;
    }
    const status = statusFromError(err);
    this.close(abortHandler ? new TtrpcError(status.code, status.message) : undefined);
    this.responder.response(status, new Uint8Array(0));
  }

  private expire(timeoutMs: number): void {
    const err = new TtrpcError(Code.DeadlineExceeded, `ttrpc: ${this.name} exceeded its ${timeoutMs} ms deadline`);
    this.finishWithError(err, true);
  }

  /** Marks the call done; aborts the handler's signal when it ends for a reason it did not choose. */
  private close(abortReason: TtrpcError | undefined): void {
    this.finished = true;
    clearTimeout(this.deadlineTimer);
    if (abortReason !== undefined) {
      this.controller.abort(abortReason);
    }
    this.onFinished();
  }
}
