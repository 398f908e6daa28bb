// gRPC for containerd 1.7 (bootstrap answer `"protocol":"grpc"`): containerd then calls
// containerd.task.v3.Task. v3's messages are v2's with the same field numbers (v3 only drops
// CreateTaskRequest.oom_path, which the shim does not read, and adds the 2.x Events stream), so
// the ttrpc implementation is served as it is: each method of the generic v2 definition is
// registered under the v3 path with v2's codecs. Methods absent here (Events) get gRPC's own
// UNIMPLEMENTED. Status codes are shared by gRPC and ttrpc, so a ShimError's code goes through.

import { unlink } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '@vfs/contracts';
import {
  type CallContext,
  Code,
  type Metadata,
  type PartialMessage,
  type ServiceDefinition,
  type ServiceImplementation,
  TtrpcError,
} from '@vfs/proto/ttrpc';
import type { ShimLogger } from './logger';

type ErasedUnaryHandler = (request: unknown, ctx: CallContext) => Promise<PartialMessage<unknown>>;
type MethodOf<D extends ServiceDefinition> = D['methods'][string];

function metadataOf(metadata: grpc.Metadata): Metadata {
  const map = new Map<string, string[]>();
  for (const [key, values] of Object.entries(metadata.getMap())) {
    map.set(key, [String(values)]);
  }
  return map;
}

function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof TtrpcError) return { code: err.code as number as grpc.status, details: err.message };
  return { code: grpc.status.UNKNOWN, details: errorMessage(err) };
}

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  if (deadline === Infinity) return undefined;
  return deadline instanceof Date ? deadline.getTime() : Number(deadline);
}

function unaryHandler<D extends ServiceDefinition>(
  serviceName: string,
  method: MethodOf<D>,
  handler: ErasedUnaryHandler,
): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort(new TtrpcError(Code.Canceled, `${method.name}: cancelled by the client`)));
    const ctx: CallContext = {
      service: serviceName,
      method: method.name,
      metadata: metadataOf(call.metadata),
      signal: abort.signal,
      deadline: deadlineOf(call),
    };
    handler(call.request, ctx).then(
      (response) => callback(null, method.responseType.fromPartial(response)),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}

/**
 * Serves `implementation` (the object registered with the ttrpc server for `definition`) as the
 * gRPC service `serviceName` on a unix socket.
 */
export async function listenGrpc<D extends ServiceDefinition>(
  socketPath: string,
  serviceName: string,
  definition: D,
  implementation: ServiceImplementation<D>,
  log: ShimLogger,
): Promise<grpc.Server> {
  const service: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(definition.methods)) {
    if (method.requestStream || method.responseStream)
      throw new Error(`gRPC adapter: ${method.name} is a streaming method`);
    const handler: unknown = implementation[key as keyof D['methods']];
    if (typeof handler !== 'function') throw new Error(`gRPC adapter: no handler for ${method.name}`);
    service[key] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: unknown) => Buffer.from(method.requestType.encode(value).finish()),
      requestDeserialize: (bytes: Buffer) => method.requestType.decode(bytes),
      responseSerialize: (value: unknown) => Buffer.from(method.responseType.encode(value).finish()),
      responseDeserialize: (bytes: Buffer) => method.responseType.decode(bytes),
    };
    handlers[key] = unaryHandler(serviceName, method, (handler as ErasedUnaryHandler).bind(implementation));
  }
  const server = new grpc.Server();
  server.addService(service, handlers);
  await unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err === null ? resolve() : reject(err),
    );
  });
  log.debug({ socketPath, serviceName }, 'gRPC server listening');
  return server;
}
