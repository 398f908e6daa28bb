// The daemon's exports: each one is a directory fd plus a device Worker serving its vhost-user
// socket. Directory fds are opened here, on the main thread, and handed to the worker by number,
// so the FUSE layer never resolves a host path.
import type { Logger } from './log';
import type { CacheMode, InodeFileHandles, LogLevel } from './cli';
import type { ExportInfo } from '@vfs/contracts';
import { daxWindowBytes } from '@vfs/contracts';
import type { DeviceOptions } from './device/device_options';
import { startDeviceWorker, type DeviceWorker } from './device/worker_handle';
import type { ExportConfig, ResourceLimits } from './passthrough/config';
import { close } from './sys/fd';

/** What a device Worker needs to build its FUSE handler (the logger is made in the worker). */
export type WorkerExportConfig = Omit<ExportConfig, 'logger'> & { readonly tag: string; readonly logLevel: LogLevel };

export interface ExportSpec {
  readonly tag: string;
  readonly socketPath?: string;
  readonly listenFd?: number;
  /** Shown by `list`: where the share lives, relative to the daemon's shared dir. */
  readonly dir: string;
  /** Owned by the registry from now on: closed when the export is removed. */
  readonly dirFd: number;
  readonly readonly: boolean;
  readonly cache: CacheMode;
  readonly xattr: boolean;
  readonly xattrmap?: string;
  readonly announceSubmounts: boolean;
  readonly readdirplus: boolean;
  /** The DAX window (shared-memory region 0) in MiB; 0 = DAX off. */
  readonly daxWindowMiB: number;
}

/** Settings every export of this daemon shares. */
export interface ExportDefaults {
  readonly procSelfFd: number;
  readonly posixLocks: boolean;
  readonly flock: boolean;
  readonly writeback: boolean;
  readonly allowDirectIo: boolean;
  /** Every session of every export gets these bounds. */
  readonly limits: ResourceLimits;
  /** --inode-file-handles, decided once for the daemon. */
  readonly inodeFileHandles: InodeFileHandles;
  /** --translate-uid / --translate-gid, for every export. */
  readonly translateUid: readonly string[];
  readonly translateGid: readonly string[];
  readonly logLevel: LogLevel;
}

interface RunningExport {
  readonly spec: ExportSpec;
  readonly worker: DeviceWorker;
}

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

export class ExportRegistry {
  private readonly exports = new Map<string, RunningExport>();
  private stopping = false;

  constructor(
    /** The bundled script that runs serveFromWorker when it is not the main thread. */
    private readonly workerScript: string,
    private readonly defaults: ExportDefaults,
    private readonly log: Logger,
    /** Called when a worker exits without being asked to (it crashed). */
    private readonly onWorkerDied: (tag: string, code: number) => void,
  ) {}

  async add(spec: ExportSpec): Promise<void> {
    if (this.exports.has(spec.tag)) {
      close(spec.dirFd);
      throw new ExportError(`export '${spec.tag}' already exists`);
    }
    const dax = spec.daxWindowMiB > 0;
    const device: DeviceOptions = {
      tag: spec.tag,
      socketPath: spec.socketPath,
      listenFd: spec.listenFd,
      ...(dax ? { shmemSizes: [daxWindowBytes(spec.daxWindowMiB)] } : {}),
    };
    const exportConfig: WorkerExportConfig = {
      ...this.defaults,
      tag: spec.tag,
      rootFd: spec.dirFd,
      readonly: spec.readonly,
      cache: spec.cache,
      xattr: spec.xattr || spec.xattrmap !== undefined,
      xattrmap: spec.xattrmap,
      announceSubmounts: spec.announceSubmounts,
      readdirplus: spec.readdirplus,
      dax,
    };
    const worker = startDeviceWorker(
      this.workerScript,
      { device, exportConfig, logLevel: this.defaults.logLevel },
      this.log,
    );
    const running = { spec, worker };
    this.exports.set(spec.tag, running);
    void worker.exited.then((code) => this.reap(running, code));
    await worker.listening;
    this.log.info(
      { export: spec.tag, socket: spec.socketPath ?? `fd ${spec.listenFd}`, dir: spec.dir },
      'export listening',
    );
  }

  async remove(tag: string): Promise<void> {
    const running = this.exports.get(tag);
    if (running === undefined) throw new ExportError(`no export '${tag}'`);
    this.exports.delete(tag);
    await running.worker.stop();
    this.log.info({ export: tag }, 'export removed');
  }

  list(): ExportInfo[] {
    return [...this.exports.values()].map(({ spec }) => ({
      tag: spec.tag,
      socket: spec.socketPath ?? `fd ${spec.listenFd}`,
      dir: spec.dir,
      readonly: spec.readonly,
      cache: spec.cache,
      ...(spec.daxWindowMiB > 0 ? { daxWindowMiB: spec.daxWindowMiB } : {}),
    }));
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.exports.keys()].map((tag) => this.remove(tag)));
  }

  /** Every exit ends here: the directory fd goes with the worker, asked for or not. */
  private reap(running: RunningExport, code: number): void {
    close(running.spec.dirFd);
    if (this.exports.get(running.spec.tag) !== running) return;
    this.exports.delete(running.spec.tag);
    if (!this.stopping) this.onWorkerDied(running.spec.tag, code);
  }
}
