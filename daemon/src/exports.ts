// The daemon's exports: each one is a directory fd plus its vhost-user socket, served by the one
// device loop every export shares (started with the first export). Directory fds are opened by the
// control side and handed to the loop by number, so the FUSE layer never resolves a host path.
import type { Logger } from './log';
import type { CacheMode, InodeFileHandles } from './cli';
import type { ExportInfo } from '@vfs/contracts';
import { daxWindowBytes } from '@vfs/contracts';
import type { DeviceOptions } from './device/device_options';
import { startDeviceHost, type DeviceHost } from './device/device_host';
import type { ChainHandlerFactory } from './virtio/descriptor_chain';
import type { ExportConfig, ResourceLimits } from './passthrough/config';
import { close } from './sys/fd';

/** What the device loop needs to build an export's FUSE handler (the logger is made per export). */
export type DeviceExportConfig = Omit<ExportConfig, 'logger'> & { readonly tag: string };

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
  /** Per-inode DAX: only regular files of at least this many KiB use the window; 0 or absent = every file. */
  readonly daxMinFileKiB?: number;
}

/** Settings every export of this daemon shares. */
export interface ExportDefaults {
  readonly procSelfFd: number;
  readonly posixLocks: boolean;
  readonly flock: boolean;
  readonly writeback: boolean;
  readonly allowDirectIo: boolean;
  readonly allowMmap: boolean;
  /** --posix-acl: for the exports with xattrs. */
  readonly posixAcl: boolean;
  readonly killprivV2: boolean;
  /** Every session of every export gets these bounds. */
  readonly limits: ResourceLimits;
  /** --inode-file-handles, decided once for the daemon. */
  readonly inodeFileHandles: InodeFileHandles;
  /** --translate-uid / --translate-gid, for every export. */
  readonly translateUid: readonly string[];
  readonly translateGid: readonly string[];
}

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

export class ExportRegistry {
  private readonly exports = new Map<string, ExportSpec>();
  private host: DeviceHost<DeviceExportConfig> | null = null;
  private stopping = false;

  constructor(
    /** Builds an export's FUSE handler factory on the device loop. */
    private readonly makeFactory: (config: DeviceExportConfig) => ChainHandlerFactory,
    private readonly defaults: ExportDefaults,
    private readonly log: Logger,
    /** Called when an export ends without being asked to (its device failed, or the loop failed). */
    private readonly onExportDied: (tag: string, reason: string) => void,
  ) {}

  async add(spec: ExportSpec): Promise<void> {
    if (this.exports.has(spec.tag)) {
      close(spec.dirFd);
      throw new ExportError(`export '${spec.tag}' already exists`);
    }
    const dax = spec.daxWindowMiB > 0;
    const daxMinFileKiB = dax ? (spec.daxMinFileKiB ?? 0) : 0;
    const device: DeviceOptions = {
      tag: spec.tag,
      socketPath: spec.socketPath,
      listenFd: spec.listenFd,
      ...(dax ? { shmemSizes: [daxWindowBytes(spec.daxWindowMiB)] } : {}),
    };
    const exportConfig: DeviceExportConfig = {
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
      ...(daxMinFileKiB > 0 ? { daxMinFileBytes: daxMinFileKiB * 1024 } : {}),
    };
    const host = this.deviceHost();
    this.exports.set(spec.tag, spec);
    try {
      await host.add(device, exportConfig);
    } catch (err) {
      // Unless the loop's end already reaped it.
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
      await this.host?.remove(tag);
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
      ...((spec.daxMinFileKiB ?? 0) > 0 ? { daxMinFileKiB: spec.daxMinFileKiB } : {}),
    }));
  }

  /** Stops the device loop, which closes every export; their directory fds follow. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await this.host?.stop();
  }

  /** The device loop, started with the first export (or again after it failed). */
  private deviceHost(): DeviceHost<DeviceExportConfig> {
    if (this.host !== null) return this.host;
    const host = startDeviceHost<DeviceExportConfig>(this.makeFactory, this.log, (tag, message) =>
      this.died(tag, `its device failed: ${message}`),
    );
    this.host = host;
    void host.exited.then((code) => {
      if (this.host === host) this.host = null;
      for (const tag of [...this.exports.keys()]) this.died(tag, `the device loop ended (${code})`);
    });
    return host;
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
