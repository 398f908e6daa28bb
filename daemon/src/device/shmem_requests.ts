// BackendRequests over the vhost-user back-end channel: SHMEM_MAP / SHMEM_UNMAP into shared-memory
// region 0, the virtio-fs DAX window. The guest remaps a chunk in place (read → write) while other
// guest threads may still use it. Our QEMU (vmm/patches) replaces a mapping in place, atomically;
// upstream QEMU 11.1 refuses a SHMEM_MAP that overlaps a mapping and unmaps only whole mappings. So
// the connection keeps which chunks hold a mapping and maps one chunk per request; a remap is
// tried as is, and only a refused one is retried after an unmap (leaving the chunk unmapped for
// that moment, which is all such a front-end allows).
import type { Logger } from 'pino';
import { DAX_CHUNK_MIB, daxWindowBytes } from '@vfs/contracts';
import type { BackendChannel } from '../vhost_user/backend_channel';
import { VhostUserError } from '../vhost_user/errors';
import { BackendRequest, SHMEM_MAP_READ_WRITE, backendRequestName } from '../vhost_user/protocol';
import type { BackendRequests, ShmemMapRequest } from '../virtio/descriptor_chain';

/** virtio-fs keeps its DAX window in region 0 (VIRTIO_FS_SHMCAP_ID_CACHE). */
const DAX_SHMID = 0;
/** The kernel's FUSE_DAX_SZ: ranges arrive in whole chunks (ops_dax checks). */
const CHUNK = daxWindowBytes(DAX_CHUNK_MIB);

/** Which chunks of one front-end's window hold a mapping: it outlives channels and device resets. */
export class WindowMappings {
  private readonly mapped: Uint8Array;

  constructor(readonly windowSize: number) {
    this.mapped = new Uint8Array(Math.ceil(windowSize / CHUNK));
  }

  isMapped(chunk: number): boolean {
    return this.mapped[chunk] === 1;
  }

  set(chunk: number, mapped: boolean): void {
    this.mapped[chunk] = mapped ? 1 : 0;
  }
}

export class ShmemRequests implements BackendRequests {
  constructor(
    /** Must have REPLY_ACK: an unacknowledged map could reach the guest after the FUSE reply. */
    private readonly channel: BackendChannel,
    private readonly mappings: WindowMappings,
    private readonly log: Logger,
  ) {}

  get windowSize(): number {
    return this.mappings.windowSize;
  }

  map(r: ShmemMapRequest): void {
    const flags = r.writable ? SHMEM_MAP_READ_WRITE : 0;
    for (let done = 0; done < r.len; done += CHUNK) {
      const shmOffset = r.shmOffset + done;
      const chunk = shmOffset / CHUNK;
      const mapping = { shmid: DAX_SHMID, fdOffset: r.fdOffset + done, shmOffset, len: CHUNK, flags };
      let status = this.channel.shmemMap(mapping, r.fd);
      if (status !== 0n && this.mappings.isMapped(chunk)) {
        this.unmapBeforeRemap(chunk);
        status = this.channel.shmemMap(mapping, r.fd);
      }
      expectSuccess(BackendRequest.SHMEM_MAP, status, `file offset ${mapping.fdOffset}, window offset ${shmOffset}`);
      this.mappings.set(chunk, true);
    }
  }

  /** Unmaps the chunks of the range that hold a mapping; the others have nothing to take away. */
  unmap(shmOffset: number, len: number): void {
    for (let at = shmOffset; at < shmOffset + len; at += CHUNK) {
      const chunk = at / CHUNK;
      if (!this.mappings.isMapped(chunk)) continue;
      this.mappings.set(chunk, false);
      expectSuccess(BackendRequest.SHMEM_UNMAP, this.unmapChunk(chunk), `window offset ${at}`);
    }
  }

  /**
   * A refusal means the front-end holds no mapping there (it dropped its window's mappings on a
   * reset we were not told about): the chunk is free either way, so the map goes ahead.
   */
  private unmapBeforeRemap(chunk: number): void {
    this.mappings.set(chunk, false);
    const status = this.unmapChunk(chunk);
    if (status !== 0n)
      this.log.warn(
        { offset: chunk * CHUNK, status: Number(status) },
        'front-end had no mapping to unmap before a remap',
      );
  }

  private unmapChunk(chunk: number): bigint {
    return this.channel.shmemUnmap({ shmid: DAX_SHMID, shmOffset: chunk * CHUNK, len: CHUNK });
  }
}

function expectSuccess(request: number, status: bigint, what: string): void {
  if (status === 0n) return;
  throw new VhostUserError(`front-end refused ${backendRequestName(request)} (${what}, 2 MiB): status ${status}`, {
    request,
  });
}
