// The shapes shared by server and client: ts-proto's generic service definitions
// (outputServices=generic-definitions), and the handler and client-method types derived from them.

import type { CallContext } from './call_context';
import type { MetadataInit } from './metadata';

/** What ts-proto generates for each message (`MessageFns<T>`), as far as ttrpc needs it. */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: PartialMessage<T>): T;
}

type Builtin = Date | ((...args: never[]) => unknown) | Uint8Array | string | number | boolean | undefined;

/** A message with every field optional, recursively (the same shape as ts-proto's DeepPartial). */
export type PartialMessage<T> = T extends Builtin
  ? T
  : T extends ReadonlyArray<infer U>
    ? ReadonlyArray<PartialMessage<U>>
    : T extends { $case: string }
      ? { [K in keyof Omit<T, '$case'>]?: PartialMessage<T[K]> } & { $case: T['$case'] }
      : T extends object
        ? { [K in keyof T]?: PartialMessage<T[K]> }
        : Partial<T>;

export interface MethodDefinition<Req, Res, ReqStream extends boolean, ResStream extends boolean> {
  readonly name: string;
  readonly requestType: MessageCodec<Req>;
  readonly requestStream: ReqStream;
  readonly responseType: MessageCodec<Res>;
  readonly responseStream: ResStream;
}

export type AnyMethodDefinition = MethodDefinition<unknown, unknown, boolean, boolean>;

export interface ServiceDefinition {
  /** Fully qualified, e.g. "containerd.task.v2.Task": the `service` of a ttrpc Request. */
  readonly fullName: string;
  readonly methods: { readonly [key: string]: AnyMethodDefinition };
}

export type RequestOf<M> = M extends { readonly requestType: { decode(input: Uint8Array): infer T } } ? T : never;
export type ResponseOf<M> = M extends { readonly responseType: { decode(input: Uint8Array): infer T } } ? T : never;

/** The sending half of a response stream, given to server-streaming handlers. */
export interface ServerStream<Res> {
  /** Resolves when the frame is handed to the transport; await it to respect backpressure. */
  send(message: PartialMessage<Res>): Promise<void>;
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<PartialMessage<Res>>;
export type ServerStreamingHandler<Req, Res> = (
  request: Req,
  stream: ServerStream<Res>,
  ctx: CallContext,
) => Promise<void>;
export type ClientStreamingHandler<Req, Res> = (
  requests: AsyncIterable<Req>,
  ctx: CallContext,
) => Promise<PartialMessage<Res>>;
export type BidiStreamingHandler<Req, Res> = (
  requests: AsyncIterable<Req>,
  stream: ServerStream<Res>,
  ctx: CallContext,
) => Promise<void>;

export type HandlerFor<M> = M extends { readonly requestStream: false; readonly responseStream: false }
  ? UnaryHandler<RequestOf<M>, ResponseOf<M>>
  : M extends { readonly requestStream: false; readonly responseStream: true }
    ? ServerStreamingHandler<RequestOf<M>, ResponseOf<M>>
    : M extends { readonly requestStream: true; readonly responseStream: false }
      ? ClientStreamingHandler<RequestOf<M>, ResponseOf<M>>
      : BidiStreamingHandler<RequestOf<M>, ResponseOf<M>>;

/** One handler per method of the definition, keyed like ts-proto's `methods` (camelCase). */
export type ServiceImplementation<D extends ServiceDefinition> = {
  readonly [K in keyof D['methods']]: HandlerFor<D['methods'][K]>;
};

export interface CallOptions {
  /** Sent as the Request's timeout_nano and enforced locally: DeadlineExceeded when it passes. */
  readonly timeoutMs?: number;
  readonly metadata?: MetadataInit;
  /** Aborting rejects the call with Canceled (ttrpc cannot tell the server; it finishes alone). */
  readonly signal?: AbortSignal;
}

type RequestSource<Req> = AsyncIterable<PartialMessage<Req>> | Iterable<PartialMessage<Req>>;

export type ClientMethodFor<M> = M extends { readonly requestStream: false; readonly responseStream: false }
  ? (request: PartialMessage<RequestOf<M>>, options?: CallOptions) => Promise<ResponseOf<M>>
  : M extends { readonly requestStream: false; readonly responseStream: true }
    ? (request: PartialMessage<RequestOf<M>>, options?: CallOptions) => AsyncIterable<ResponseOf<M>>
    : M extends { readonly requestStream: true; readonly responseStream: false }
      ? (requests: RequestSource<RequestOf<M>>, options?: CallOptions) => Promise<ResponseOf<M>>
      : (requests: RequestSource<RequestOf<M>>, options?: CallOptions) => AsyncIterable<ResponseOf<M>>;

/** A typed client for one service: `client.service(TaskDefinition).state({ id })`. */
export type ServiceClient<D extends ServiceDefinition> = {
  readonly [K in keyof D['methods']]: ClientMethodFor<D['methods'][K]>;
};
