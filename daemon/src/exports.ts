// The daemon's exports: each one is a directory fd plus its vhost-user socket, served by the one
// device Worker every export shares (started with the first export). Directory fds are opened here,
// on the main thread, and handed to the worker by number, so the FUSE layer never resolves a host path.
import type { Logger } from './log';
import type { CacheMode, InodeFileHandles, LogLevel } from './cli';
import type { ExportInfo } from '@vfs/contracts';
import { daxWindowBytes } from '@vfs/contracts';
import type { DeviceOptions } from './device/device_options';
import { startDeviceThread, type DeviceThread } from './device/worker_handle';
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

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

export class ExportRegistry {
  private readonly exports = new Map<string, ExportSpec>();
  private thread: DeviceThread<WorkerExportConfig> | null = null;
  private stopping = false;

  constructor(
    /** The bundled script that runs serveFromWorker when it is not the main thread. */
    private readonly workerScript: string,
    private readonly defaults: ExportDefaults,
    private readonly log: Logger,
    /** Called when an export ends without being asked to (its device failed, or the thread died). */
    private readonly onExportDied: (tag: string, reason: string) => void,
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
    const thread = this.deviceThread();
    this.exports.set(spec.tag, spec);
    try {
      await thread.add(device, exportConfig);
    } catch (err) {
      // Unless the thread's exit already reaped it.
      if (this.exports.get(spec.tag) === spec) this.forget(spec);
      throw err;
    }
    this.log.info(
      { export: spec.tag, socket: spec.socketPath ?? `fd ${spec.listenFd}`, dir: spec.dir },
      'export listening',
    );
  }

  async remove(tag: string): Promise<void> {
    const spec = this.exports.get(tag);
    if (spec === undefined) throw new ExportError(`no export '${tag}'`);
    this.exports.delete(tag);
    try {
      await this.thread?.remove(tag);
    } finally {
      close(spec.dirFd);
    }
    this.log.info({ export: tag }, 'export removed');
  }

  list(): ExportInfo[] {
    return [...this.exports.values()].map((spec) => ({
      tag: spec.tag,
      socket: spec.socketPath ?? `fd ${spec.listenFd}`,
      dir: spec.dir,
      readonly: spec.readonly,
      cache: spec.cache,
      ...(spec.daxWindowMiB > 0 ? { daxWindowMiB: spec.daxWindowMiB } : {}),
    }));
  }

  /** Stops the device thread, which closes every export; their directory fds follow. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await this.thread?.stop();
  }

  /** The device thread, started with the first export (or again after it died). */
  private deviceThread(): DeviceThread<WorkerExportConfig> {
    if (this.thread !== null) return this.thread;
    const thread = startDeviceThread<WorkerExportConfig>(
      this.workerScript,
      this.defaults.logLevel,
      this.log,
      (tag, message) => this.died(tag, `its device failed: ${message}`),
    );
    this.thread = thread;
    void thread.exited.then((code) => {
      if (this.thread === thread) this.thread = null;
      for (const tag of [...this.exports.keys()]) this.died(tag, `the device thread exited (${code})`);
    });
    return thread;
  }

  /** An export that ended unasked: its directory fd goes with it. */
  private died(tag: string, reason: string): void {
    const spec = this.exports.get(tag);
    if (spec === undefined) return;
    this.forget(spec);
    if (!this.stopping) this.onExportDied(tag, reason);
  }

  private forget(spec: ExportSpec): void {
    this.exports.delete(spec.tag);
    close(spec.dirFd);
  }
}
