// A typed client of containerd's CRI plugin, as kubelet is one: runtime.v1 RuntimeService and
// ImageService over @grpc/grpc-js on containerd's socket, one promise per unary call:
//   await cri.runtime('runPodSandbox', RunPodSandboxRequest.fromPartial({ config, runtimeHandler: 'runc' }))
// Requests are built with fromPartial (the types insist): ts-proto's encode() expects every scalar
// field present. int64 fields are bigints (proto/README.md). A failed call rejects with a CriError
// carrying the gRPC status.

import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { ImageServiceService, RuntimeServiceService } from '@vfs/proto/gen/k8s.io/cri-api/runtime/v1/api';

const DEFAULT_TIMEOUT_MS = 60_000;
// kubelet's limit; grpc-js would refuse responses over 4 MiB.
const MAX_MESSAGE_BYTES = 16 << 20;

interface UnaryDefinition<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (value: Buffer) => Res;
}

/** The unary methods of a ts-proto grpc-js service definition (streams are left out). */
type UnaryMethod<S> = {
  [K in keyof S]: S[K] extends { requestStream: false; responseStream: false } ? K : never;
}[keyof S];
type RequestOf<D> = D extends { requestSerialize: (value: infer Req) => Buffer } ? Req : never;
type ResponseOf<D> = D extends { responseDeserialize: (value: Buffer) => infer Res } ? Res : never;

/** The unary methods' definitions, typed so that indexing with a generic method name keeps request and response together. */
type Definitions<S> = { [K in UnaryMethod<S>]: UnaryDefinition<RequestOf<S[K]>, ResponseOf<S[K]>> };

type Runtime = typeof RuntimeServiceService;
type Image = typeof ImageServiceService;
const RUNTIME: Definitions<Runtime> = RuntimeServiceService;
const IMAGE: Definitions<Image> = ImageServiceService;

export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: status,
    readonly details: string,
  ) {
    super(`CRI ${method}: ${status[code]}: ${details}`);
    this.name = 'CriError';
  }
}

export class CriClient {
  private readonly client: Client;

  /** `socketPath`: containerd's gRPC address (PrivateContainerd.grpcAddress). */
  constructor(socketPath: string) {
    this.client = new Client(`unix://${socketPath}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
  }

  runtime<K extends UnaryMethod<Runtime>>(
    method: K,
    request: RequestOf<Runtime[K]>,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ResponseOf<Runtime[K]>> {
    return this.call(RUNTIME[method], request, timeoutMs);
  }

  image<K extends UnaryMethod<Image>>(
    method: K,
    request: RequestOf<Image[K]>,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ResponseOf<Image[K]>> {
    return this.call(IMAGE[method], request, timeoutMs);
  }

  close(): void {
    this.client.close();
  }

  private call<Req, Res>(definition: UnaryDefinition<Req, Res>, request: Req, timeoutMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      const options = { deadline: Date.now() + timeoutMs };
      this.client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        new Metadata(),
        options,
        (err, response) => {
          if (err !== null) reject(new CriError(definition.path, err.code, err.details));
          else if (response === undefined)
            reject(new CriError(definition.path, status.INTERNAL, 'no response message'));
          else resolve(response);
        },
      );
    });
  }
}
