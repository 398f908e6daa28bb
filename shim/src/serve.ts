// The long-running shim, one per sandbox: what `start` becomes once it chose to serve. It serves the
// Task API on the sandbox's socket (ttrpc, or gRPC when `start` announces it), publishes events,
// and exits after a Shutdown that finds no task left. `serve` resolves once it listens.

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { errorMessage } from '@vfs/contracts';
import { TaskDefinition } from '@vfs/proto/gen/containerd/runtime/task/v2/shim';
import { type ServiceImplementation, TtrpcServer } from '@vfs/proto/ttrpc';
import { ConfigError, installRoot, type LoadedConfig, loadRuntimeConfig } from '@vfs/runtime-config';
import { traced } from './call_trace';
import { clearCleanExit, markCleanExit } from './clean_exit';
import { EventPublisher } from './events';
import type { ShimFlags } from './flags';
import type { ShimProtocol } from './protocol';
import { containerLogger, fifoLogger, type LogLevel, type ShimLogger } from './logger';
import { chosenOptions, optionsFromAny, type RuntimeOptions } from './runtime_options';
import type { SandboxRuntime, SandboxRuntimeFactory } from './sandbox_runtime';
import { SandboxState } from './sandbox_state';
import { runDir, sandboxPaths } from './shim_paths';
import { Code, ShimError } from './shim_error';
import { TaskService } from './task_service';

const EVENT_FLUSH_MS = 3000;

/** containerd's flags and what `start` decided for the server. */
export interface ServeSettings {
  readonly flags: ShimFlags;
  /** The runtime options `start` read on its stdin; Create's own options take precedence. */
  readonly options: RuntimeOptions;
  /** The protocol `start` announces to containerd. */
  readonly protocol: ShimProtocol;
}

function loadConfig(startOptions: RuntimeOptions, createOptions?: Parameters<typeof optionsFromAny>[0]): LoadedConfig {
  const { configPath, configBody } = chosenOptions(startOptions, optionsFromAny(createOptions));
  try {
    return loadRuntimeConfig({ optionsConfigPath: configPath, optionsConfigBody: configBody, root: installRoot() });
  } catch (err) {
    if (err instanceof ConfigError) throw new ShimError(Code.InvalidArgument, err.message, { cause: err });
    throw err;
  }
}

/** The log level before Create: the configuration's if it loads (its errors are Create's to report). */
function startupLogLevel({ flags, options }: ServeSettings): LogLevel {
  if (flags.debug) return 'debug';
  try {
    return loadConfig(options).config.runtime.log_level;
  } catch {
    return 'info';
  }
}

interface Servers {
  close(): Promise<void>;
}

/** `log` is the root logger. */
async function listen(protocol: ShimProtocol, socket: string, service: TaskService, log: ShimLogger): Promise<Servers> {
  const implementation: ServiceImplementation<typeof TaskDefinition> = traced(TaskDefinition, service, log);
  if (protocol === 'grpc') {
    // gRPC (grpc-js) loads only when containerd speaks it: a ttrpc shim (containerd 1.6) never holds it.
    const { listenGrpc } = await import('./grpc_server.js');
    const server: grpc.Server = await listenGrpc(
      socket,
      'containerd.task.v3.Task',
      TaskDefinition,
      implementation,
      log,
    );
    return { close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
  }
  const server = new TtrpcServer({ logger: log }).register(TaskDefinition, implementation);
  await server.listen(socket);
  return { close: () => server.close() };
}

export async function serve(settings: ServeSettings, factory: SandboxRuntimeFactory): Promise<void> {
  const { flags, options, protocol } = settings;
  const sandboxId = flags.id;
  const paths = sandboxPaths(runDir(), flags.namespace, sandboxId);
  const rootLog = fifoLogger(join(flags.bundle, 'log'), { level: startupLogLevel(settings), sandboxId });
  const log = containerLogger(rootLog, sandboxId);
  try {
    clearCleanExit(flags.bundle);
    const state = new SandboxState(paths.stateDir);
    state.create();
    state.recordPid('shim', process.pid);
    const ttrpcAddress = process.env.TTRPC_ADDRESS;
    if (ttrpcAddress === undefined || ttrpcAddress === '')
      throw new ShimError(Code.InvalidArgument, 'TTRPC_ADDRESS is not set: containerd sets it for its shims');
    const events = new EventPublisher({ address: ttrpcAddress, namespace: flags.namespace, log });
    let servers: Servers | undefined;
    // Before Shutdown answers: containerd closes the connection right after the answer and then runs
    // `delete`, which the mark lets skip its Node start (clean_exit.ts). This is `delete`'s own
    // removal, less this process; when it fails, `delete` removes what is left.
    const release = async (): Promise<void> => {
      try {
        state.forgetPid('shim');
        const { removeSandbox } = await import('./cleanup.js');
        await removeSandbox(flags.namespace, sandboxId, log);
        markCleanExit(flags.bundle);
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'sandbox not removed at Shutdown: containerd runs delete for it');
      }
    };
    const shutdown = async (): Promise<void> => {
      await servers?.close();
      await events.flush(EVENT_FLUSH_MS);
      events.close();
      log.info('shim shut down');
      log.flush();
      process.exit(0);
    };
    const provideRuntime = async (createOptions: Parameters<typeof optionsFromAny>[0]): Promise<SandboxRuntime> => {
      const config = loadConfig(options, createOptions);
      log.info({ source: config.source }, 'runtime configuration loaded');
      return factory({
        sandboxId,
        namespace: flags.namespace,
        config,
        state,
        log: rootLog,
        onOom: (id) => service.reportOom(id),
      });
    };
    const service: TaskService = new TaskService({
      namespace: flags.namespace,
      runtime: provideRuntime,
      events,
      log: rootLog,
      onStopped: release,
      onShutdown: () => {
        shutdown().catch((err: unknown) => {
          log.fatal({ err: String(err) }, 'shutdown failed');
          process.exit(1);
        });
      },
    });
    mkdirSync(dirname(paths.socket), { recursive: true, mode: 0o700 });
    servers = await listen(protocol, paths.socket, service, rootLog);
    log.info({ socket: paths.socket, protocol }, 'shim serving');
  } catch (err) {
    log.fatal({ err: String(err) }, 'shim failed to start');
    log.flush();
    throw err;
  }
}
