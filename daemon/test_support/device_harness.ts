// Test plumbing: bundle a worker entry (Node 20 cannot run .ts in a Worker), start a device in a
// Worker on a socket in a fresh temp dir, and tear it all down again.
import { buildSync } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { startDeviceWorker, type DeviceWorker } from '../src/device/worker_handle';
import type { DeviceOptions } from '../src/device/device_options';
import type { LogLevel } from '../src/device/worker';
import type { EchoConfig } from './echo_device_worker';
import { createLogger } from '../src/log';

const REPO = resolve(__dirname, '../..');
// Inside node_modules so the bundle resolves koffi and pino (kept external) from the repo.
const CACHE = join(REPO, 'node_modules/.cache/vfs-test-workers');

let bundleCount = 0;

/** Bundles `entry` (a .ts worker script) into a new CommonJS file; returns its path. */
export function bundleWorker(entry: string): string {
  mkdirSync(CACHE, { recursive: true });
  const outfile = join(CACHE, `${basename(entry, '.ts')}-${process.pid}-${bundleCount++}.js`);
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['koffi', 'pino'],
    logLevel: 'warning',
  });
  return outfile;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

export interface RunningDevice {
  readonly dir: string;
  readonly socketPath: string;
  readonly device: DeviceWorker;
  /** Stops the worker and removes the temp dir. */
  stop(): Promise<void>;
}

/** Starts the echo device in a Worker, listening in a new temp dir. */
export async function startEchoDevice(
  options: Partial<DeviceOptions> = {},
  logLevel: LogLevel = (process.env['VFS_TEST_LOG'] as LogLevel | undefined) ?? 'error',
  echo: EchoConfig | null = null,
): Promise<RunningDevice> {
  const script = bundleWorker(join(__dirname, 'echo_device_worker.ts'));
  const dir = tempDir('vfs-echo');
  const socketPath = join(dir, 'vhost.sock');
  const device = startDeviceWorker(script, {
    device: { tag: 'echo', socketPath, ...options },
    exportConfig: echo,
    logLevel,
  }, createLogger(logLevel, { component: 'echo-device' }));
  // The worker has loaded its script once it listens: the bundle is not needed any more.
  await device.listening.finally(() => rmSync(script, { force: true }));
  return {
    dir,
    socketPath,
    device,
    async stop(): Promise<void> {
      await device.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
