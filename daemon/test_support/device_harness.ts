// Test plumbing: start the device thread in a Worker (its entry bundled: Node 20 cannot run .ts in
// a Worker) with echo exports on sockets in a fresh temp dir, and tear it all down again.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorker } from '@vfs/harness/bundles';
import { tempDir } from '@vfs/harness/temp_dir';
import type { DeviceHost } from '../src/device/control_requests';
import type { DeviceOptions } from '../src/device/device_options';
import type { LogLevel } from './device_worker';
import { startDeviceThread } from './device_worker_host';
import type { EchoConfig } from './echo_device_worker';
import { createLogger } from '../src/log';

const defaultLevel = (): LogLevel => (process.env['VFS_TEST_LOG'] as LogLevel | undefined) ?? 'error';

export interface EchoThread {
  readonly dir: string;
  readonly thread: DeviceHost<EchoConfig | null>;
  /** Where the export `tag` listens. */
  socketPath(tag: string): string;
  /** Adds an echo export named `tag`; resolves with its socket path once it listens. */
  add(tag: string, options?: Partial<DeviceOptions>, echo?: EchoConfig | null): Promise<string>;
  /** Stops the worker and removes the temp dir. */
  stop(): Promise<void>;
}

/** Starts the device thread with the echo handler and no export yet. */
export function startEchoThread(
  logLevel: LogLevel = defaultLevel(),
  onFailed?: (tag: string, message: string) => void,
): EchoThread {
  const script = bundleWorker(join(__dirname, 'echo_device_worker.ts'));
  const dir = tempDir('vfs-echo');
  const thread = startDeviceThread<EchoConfig | null>(
    script,
    logLevel,
    createLogger(logLevel, { component: 'echo-device' }),
    onFailed,
  );
  // Node reads the script before the Worker runs it; the thread answers only once it runs.
  let scriptLoaded = false;
  const socketPath = (tag: string): string => join(dir, `${tag}.sock`);
  return {
    dir,
    thread,
    socketPath,
    async add(tag, options = {}, echo = null): Promise<string> {
      const path = socketPath(tag);
      try {
        await thread.add({ tag, socketPath: path, ...options }, echo);
      } finally {
        if (!scriptLoaded) rmSync(script, { force: true });
        scriptLoaded = true;
      }
      return path;
    },
    async stop(): Promise<void> {
      await thread.stop();
      rmSync(script, { force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunningDevice {
  readonly dir: string;
  readonly socketPath: string;
  readonly device: DeviceHost<EchoConfig | null>;
  /** Stops the worker and removes the temp dir. */
  stop(): Promise<void>;
}

/** Starts the device thread serving one echo export, listening in a new temp dir. */
export async function startEchoDevice(
  options: Partial<DeviceOptions> = {},
  logLevel: LogLevel = defaultLevel(),
  echo: EchoConfig | null = null,
): Promise<RunningDevice> {
  const echoThread = startEchoThread(logLevel);
  const socketPath = await echoThread.add('echo', options, echo);
  return { dir: echoThread.dir, socketPath, device: echoThread.thread, stop: echoThread.stop };
}
