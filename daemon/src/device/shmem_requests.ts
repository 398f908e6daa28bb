// BackendRequests over the vhost-user back-end channel: SHMEM_MAP / SHMEM_UNMAP into shared-memory
// region 0, the virtio-fs DAX window.
import type { BackendChannel } from '../vhost_user/backend_channel';
import { VhostUserError } from '../vhost_user/errors';
import { BackendRequest, SHMEM_MAP_READ_WRITE, backendRequestName } from '../vhost_user/protocol';
import type { BackendRequests, ShmemMapRequest } from '../virtio/descriptor_chain';

/** virtio-fs keeps its DAX window in region 0 (VIRTIO_FS_SHMCAP_ID_CACHE). */
const DAX_SHMID = 0;

export class ShmemRequests implements BackendRequests {
  constructor(
    /** Must have REPLY_ACK: an unacknowledged map could reach the guest after the FUSE reply. */
    private readonly channel: BackendChannel,
    readonly windowSize: number,
  ) {}

  map(r: ShmemMapRequest): void {
    const flags = r.writable ? SHMEM_MAP_READ_WRITE : 0;
    const status = this.channel.shmemMap(
      { shmid: DAX_SHMID, fdOffset: r.fdOffset, shmOffset: r.shmOffset, len: r.len, flags },
      r.fd,
    );
    expectSuccess(
      BackendRequest.SHMEM_MAP,
      status,
      `file offset ${r.fdOffset}, window offset ${r.shmOffset}, ${r.len} bytes`,
    );
  }

  unmap(shmOffset: number, len: number): void {
    const status = this.channel.shmemUnmap({ shmid: DAX_SHMID, shmOffset, len });
    expectSuccess(BackendRequest.SHMEM_UNMAP, status, `window offset ${shmOffset}, ${len} bytes`);
  }
}

function expectSuccess(request: number, status: bigint, what: string): void {
  if (status === 0n) return;
  throw new VhostUserError(`front-end refused ${backendRequestName(request)} (${what}): status ${status}`, { request });
}
