// One call on the client side: collects its frames into a result (single response) or a queue
// (streamed responses), and fails it on timeout, on the caller's abort or on disconnect.

import { Response } from '../gen/ttrpc/request';
import { AsyncQueue } from './async_queue';
import { Code } from './codes';
import { errorMessage, TtrpcError } from './errors';
import { FLAG_NO_DATA, FLAG_REMOTE_CLOSED, MessageType } from './framing';
import type { AnyMethodDefinition, CallOptions } from './service';
import { errorFromStatus, isOk } from './status';

export class ClientCall {
  /** Settles with the single response; only for methods without a streamed response. */
  readonly result: Promise<unknown> | undefined;
  /** Streamed responses; only for methods with a streamed response. */
  readonly responses: AsyncQueue<unknown> | undefined;
  private settle: { resolve(value: unknown): void; reject(err: TtrpcError): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private abortListener: (() => void) | undefined;
  private done = false;

  constructor(
    readonly streamId: number,
    readonly name: string,
    private readonly method: AnyMethodDefinition,
    private readonly options: CallOptions,
    private readonly onFinished: () => void,
  ) {
    if (method.responseStream) {
      this.responses = new AsyncQueue<unknown>(() => this.finish());
      this.result = undefined;
    } else {
      this.responses = undefined;
      this.result = new Promise((resolve, reject) => {
        this.settle = { resolve, reject };
      });
    }
    this.armTimeout();
    this.armAbort();
  }

  get isDone(): boolean {
    return this.done;
  }

  /** A Response or Data frame that arrived on this call's stream. */
  receive(type: number, flags: number, payload: Buffer): void {
    if (type === MessageType.Response) {
      this.receiveResponse(payload);
    } else if (type === MessageType.Data) {
      this.receiveData(flags, payload);
    } else {
      this.fail(new TtrpcError(Code.Internal, `ttrpc: ${this.name} received a frame of unknown type ${type}`));
    }
  }

  fail(err: TtrpcError): void {
    if (this.done) {
      return;
    }
    this.finish();
    this.responses?.fail(err);
    this.settle?.reject(err);
  }

  private receiveResponse(payload: Buffer): void {
    let response: Response;
    try {
      response = Response.decode(payload);
    } catch (err) {
      this.fail(
        new TtrpcError(Code.Internal, `ttrpc: ${this.name}: cannot decode the response envelope: ${errorMessage(err)}`),
      );
      return;
    }
    if (!isOk(response.status)) {
      this.fail(errorFromStatus(response.status as NonNullable<Response['status']>));
      return;
    }
    const message = this.decode(response.payload, !this.method.responseStream || response.payload.length > 0);
    if (message instanceof TtrpcError) {
      this.fail(message);
      return;
    }
    this.succeed(message);
  }

  private receiveData(flags: number, payload: Buffer): void {
    const responses = this.responses;
    if (responses === undefined) {
      this.fail(
        new TtrpcError(Code.Internal, `ttrpc: ${this.name} received stream data, but its response is not streamed`),
      );
      return;
    }
    if ((flags & FLAG_NO_DATA) === 0) {
      const message = this.decode(payload, true);
      if (message instanceof TtrpcError) {
        this.fail(message);
        return;
      }
      responses.push(message);
    }
    if ((flags & FLAG_REMOTE_CLOSED) !== 0) {
      this.succeed(undefined);
    }
  }

  /** For a streamed response a final Response may carry one last message; that is `message`. */
  private succeed(message: unknown): void {
    if (this.done) {
      return;
    }
    this.finish();
    if (this.responses !== undefined) {
      if (message !== undefined) {
        this.responses.push(message);
      }
      this.responses.end();
    } else {
      this.settle?.resolve(message);
    }
  }

  /** Returns undefined when there is nothing to decode (`wanted` false). */
  private decode(payload: Buffer, wanted: boolean): unknown {
    if (!wanted) {
      return undefined;
    }
    try {
      return this.method.responseType.decode(payload);
    } catch (err) {
      return new TtrpcError(Code.Internal, `ttrpc: ${this.name}: cannot decode the response: ${errorMessage(err)}`);
    }
  }

  private armTimeout(): void {
    const timeoutMs = this.options.timeoutMs;
    if (timeoutMs === undefined || timeoutMs <= 0) {
      return;
    }
    this.timer = setTimeout(
      () => this.fail(new TtrpcError(Code.DeadlineExceeded, `ttrpc: ${this.name} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  }

  private armAbort(): void {
    const signal = this.options.signal;
    if (signal === undefined) {
      return;
    }
    const cancel = (): void =>
      this.fail(new TtrpcError(Code.Canceled, `ttrpc: ${this.name} was canceled by the caller`));
    if (signal.aborted) {
      queueMicrotask(cancel);
      return;
    }
    this.abortListener = cancel;
    signal.addEventListener('abort', cancel, { once: true });
  }

  private finish(): void {
    if (this.done) {
      return;
    }
    this.done = true;
    clearTimeout(this.timer);
    if (this.abortListener !== undefined) {
      this.options.signal?.removeEventListener('abort', this.abortListener);
    }
    this.onFinished();
  }
}
