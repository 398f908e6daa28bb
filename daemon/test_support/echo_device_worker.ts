// Worker entry for transport tests: the device loop with the echo handler.
import { serveFromWorker } from '../src/device/worker';
import { echoHandlerFactory } from './echo_handler';

serveFromWorker(() => echoHandlerFactory);
