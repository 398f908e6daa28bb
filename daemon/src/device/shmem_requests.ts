// BackendRequests over the vhost-user back-end channel: SHMEM_MAP / SHMEM_UNMAP into shared-memory
// region 0, the virtio-fs DAX window. The guest remaps a chunk in place (read → write) while other
// guest threads may still use it. Our QEMU (vmm/patches) replaces a mapping in place, atomically;
// upstream QEMU 11.1 refuses a SHMEM_MAP that overlaps a mapping and unmaps only whole mappings. So
// the connection keeps which chunks hold a mapping and maps one chunk per request; a remap is
// tried as is, and only a refused one is retried after an unmap (leaving the chunk unmapped for
// that moment, which is all such a front-end allows). A request given up before its reply (the
// front-end stuck on a ring stop, or the timeout) may still be carried out: its chunk is then
// unknown, and treated as mapped by a refused map and as free by a refused unmap, so the guest's
// request, put back on its ring, can simply run again.
import type { Logger } from 'pino';
import { DAX_CHUNK_MIB, daxWindowBytes } from '@vfs/contracts';
import type { BackendChannel, ShmemMapping } from '../vhost_user/backend_channel';
import { FrontendWaitingError, VhostUserError } from '../vhost_user/errors';
import { BackendRequest, SHMEM_MAP_READ_WRITE, backendRequestName } from '../vhost_user/protocol';
import { type BackendRequests, FrontendBusy, type ShmemMapRequest } from '../virtio/descriptor_chain';

/** virtio-fs keeps its DAX window in region 0 (VIRTIO_FS_SHMCAP_ID_CACHE). */
const DAX_SHMID = 0;
/** The kernel's FUSE_DAX_SZ: ranges arrive in whole chunks (ops_dax checks). */
const CHUNK = daxWindowBytes(DAX_CHUNK_MIB);

/** What a chunk of the window holds. */
const FREE = 0;
const MAPPED = 1;
/** A request for it was given up before its reply: the front-end may or may not have done it. */
const UNKNOWN = 2;
type ChunkState = typeof FREE | typeof MAPPED | typeof UNKNOWN;

/** What each chunk of one front-end's window holds: it outlives channels and device resets. */
export class WindowMappings {
  private readonly chunks: Uint8Array;

  constructor(readonly windowSize: number) {
    this.chunks = new Uint8Array(Math.ceil(windowSize / CHUNK));
  }

  state(chunk: number): ChunkState {
    return this.chunks[chunk] as ChunkState;
  }

  set(chunk: number, state: ChunkState): void {
    this.chunks[chunk] = state;
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
      let status = this.mapChunk(mapping, r.fd);
      if (status !== 0n && this.mappings.state(chunk) !== FREE) {
        this.unmapBeforeRemap(chunk);
        status = this.mapChunk(mapping, r.fd);
      }
      expectSuccess(BackendRequest.SHMEM_MAP, status, `file offset ${mapping.fdOffset}, window offset ${shmOffset}`);
      this.mappings.set(chunk, MAPPED);
    }
  }

  /** Unmaps the chunks of the range that may hold a mapping; the others have nothing to take away. */
  unmap(shmOffset: number, len: number): void {
    for (let at = shmOffset; at < shmOffset + len; at += CHUNK) {
      const chunk = at / CHUNK;
      const before = this.mappings.state(chunk);
      if (before === FREE) continue;
      const status = this.unmapChunk(chunk);
      this.mappings.set(chunk, FREE);
      // An unknown chunk the front-end has nothing in is as free as the guest asked.
      if (before === MAPPED) expectSuccess(BackendRequest.SHMEM_UNMAP, status, `window offset ${at}`);
    }
  }

  /**
   * A refusal means the front-end holds no mapping there (it dropped its window's mappings on a
   * reset we were not told about, or never carried out a map we gave up on): the chunk is free
   * either way, so the map goes ahead.
   */
  private unmapBeforeRemap(chunk: number): void {
    const status = this.unmapChunk(chunk);
    this.mappings.set(chunk, FREE);
    if (status !== 0n)
      this.log.warn(
        { offset: chunk * CHUNK, status: Number(status) },
        'front-end had no mapping to unmap before a remap',
      );
  }

  private mapChunk(mapping: ShmemMapping, fd: number): bigint {
    return this.settled(mapping.shmOffset / CHUNK, () => this.channel.shmemMap(mapping, fd));
  }

  private unmapChunk(chunk: number): bigint {
    return this.settled(chunk, () =>
      this.channel.shmemUnmap({ shmid: DAX_SHMID, shmOffset: chunk * CHUNK, len: CHUNK }),
    );
  }

  /**
   * Runs one request for `chunk`; one given up on leaves the chunk unknown. When the front-end is
   * waiting on us, the guest's request is put back and runs again later.
   */
  private settled(chunk: number, request: () => bigint): bigint {
    try {
      return request();
    } catch (err) {
      this.mappings.set(chunk, UNKNOWN);
      if (err instanceof FrontendWaitingError) throw new FrontendBusy(err.message, { cause: err });
      throw err;
    }
  }
}

function expectSuccess(request: number, status: bigint, what: string): void {
  if (status === 0n) return;
  throw new VhostUserError(`front-end refused ${backendRequestName(request)} (${what}, 2 MiB): status ${status}`, {
    request,
  });
}
