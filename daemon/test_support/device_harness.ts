// Test plumbing: start a device in a Worker (its entry bundled: Node 20 cannot run .ts in a
// Worker) on a socket in a fresh temp dir, and tear it all down again.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorker } from '@vfs/harness/bundles';
import { tempDir } from '@vfs/harness/temp_dir';
import { startDeviceWorker, type DeviceWorker } from '../src/device/worker_handle';
import type { DeviceOptions } from '../src/device/device_options';
import type { LogLevel } from '../src/device/worker';
import type { EchoConfig } from './echo_device_worker';
import { createLogger } from '../src/log';

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
  const device = startDeviceWorker(
    script,
    {
      device: { tag: 'echo', socketPath, ...options },
      exportConfig: echo,
      logLevel,
    },
    createLogger(logLevel, { component: 'echo-device' }),
  );
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
