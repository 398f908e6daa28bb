// Worker entry for tests of the real FUSE handler on the device loop (device_worker.ts).
import type { DeviceExportConfig } from '../src/exports';
import { createFuseHandler } from '../src/fuse/server';
import { createLogger } from '../src/log';
import { serveFromWorker } from './device_worker';

serveFromWorker<DeviceExportConfig>(
  (config) => (complete, backend) =>
    createFuseHandler({ ...config, logger: createLogger('off', { export: config.tag }) }, complete, backend),
);
