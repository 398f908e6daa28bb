// The ttrpc API for the rest of vfs: import from here, not from the files behind it.

export type { CallContext } from './call_context';
export { TtrpcClient, type TtrpcClientOptions } from './client';
export { Code, codeName } from './codes';
export { TtrpcError } from './errors';
export { MAX_PAYLOAD_LENGTH } from './framing';
export type { LogFields, TtrpcLogger } from './logger';
export { type Metadata, type MetadataInit, metadataValue } from './metadata';
export { TtrpcServer, type TtrpcServerOptions } from './server';
export type { ServerConnection } from './server_connection';
export type {
  CallOptions,
  PartialMessage,
  ServerStream,
  ServiceClient,
  ServiceDefinition,
  ServiceImplementation,
} from './service';
