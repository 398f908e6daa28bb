// Worker entry for transport tests: the device loop with the echo handler.
import { serveFromWorker } from './device_worker';
import type { ChainHandlerFactory } from '../src/virtio/descriptor_chain';
import { echoHandlerFactory } from './echo_handler';

/** What a test may ask of the echo device. */
export interface EchoConfig {
  /** The handler fails to build for this many first connections (a bad export setting would). */
  readonly failConnections?: number;
}

function failingFirst(count: number): ChainHandlerFactory {
  let left = count;
  return (complete, backend) => {
    if (left-- > 0) throw new Error('echo handler refused to build');
    return echoHandlerFactory(complete, backend);
  };
}

serveFromWorker((config: EchoConfig | null) => failingFirst(config?.failConnections ?? 0));
