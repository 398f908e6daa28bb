// The back-end → front-end channel (SET_BACKEND_REQ_FD, formerly SET_SLAVE_REQ_FD): how the
// back-end asks the VMM to map file ranges into a VIRTIO shared-memory region (DAX).
import { Connection, readU64Payload } from './connection';
import { VhostUserError } from './errors';
import {
  BackendRequest,
  FLAG_NEED_REPLY,
  FLAG_REPLY,
  Layout,
  VirtioFsBranchRequest,
  backendRequestName,
} from './protocol';

export interface ShmemMapping {
  readonly shmid: number;
  readonly fdOffset: number;
  readonly shmOffset: number;
  readonly len: number;
  /** SHMEM_MAP_READ_WRITE or 0 (read-only). */
  readonly flags: number;
}

export interface FsMapEntry {
  readonly fdOffset: number;
  /** Offset in the DAX cache window. */
  readonly cacheOffset: number;
  readonly len: number;
  /** FS_MAP_R | FS_MAP_W. */
  readonly flags: number;
}

export class BackendChannel {
  constructor(
    private readonly conn: Connection,
    /** REPLY_ACK was negotiated: every request waits for the front-end's verdict. */
    private readonly replyAck: boolean,
  ) {}

  /** Every request waits for the front-end's verdict (REPLY_ACK). */
  get acknowledged(): boolean {
    return this.replyAck;
  }

  /** Sends a request; returns the front-end's u64 status (0 = success; 0 when unacknowledged). */
  request(code: number, payload: Uint8Array, fds: readonly number[] = []): bigint {
    this.conn.send(code, this.replyAck ? FLAG_NEED_REPLY : 0, payload, fds);
    if (!this.replyAck) return 0n;
    const reply = this.conn.receive();
    if (reply === null) throw new VhostUserError(`front-end closed the back-end channel during ${backendRequestName(code)}`);
    if (reply.request !== code || (reply.flags & FLAG_REPLY) === 0) {
      throw new VhostUserError(`expected a reply to ${backendRequestName(code)}, got request ${reply.request} flags 0x${reply.flags.toString(16)}`);
    }
    return readU64Payload(reply);
  }

  /** SHMEM_MAP: map `len` bytes of `fd` at `fdOffset` into shared-memory region `shmid`. */
  shmemMap(m: ShmemMapping, fd: number): bigint {
    return this.request(BackendRequest.SHMEM_MAP, shmemPayload(m), [fd]);
  }

  shmemUnmap(m: Omit<ShmemMapping, 'fdOffset' | 'flags'>): bigint {
    return this.request(BackendRequest.SHMEM_UNMAP, shmemPayload({ ...m, fdOffset: 0, flags: 0 }));
  }

  /** FS_MAP of the virtio-fs QEMU branch: up to 8 ranges of `fd` into the DAX window. */
  fsMap(entries: readonly FsMapEntry[], fd: number): bigint {
    return this.request(VirtioFsBranchRequest.FS_MAP, fsPayload(entries), [fd]);
  }

  fsUnmap(entries: readonly Omit<FsMapEntry, 'fdOffset' | 'flags'>[]): bigint {
    return this.request(
      VirtioFsBranchRequest.FS_UNMAP,
      fsPayload(entries.map((e) => ({ ...e, fdOffset: 0, flags: 0 }))),
    );
  }

  close(): void {
    this.conn.close();
  }
}

function shmemPayload(m: ShmemMapping): Uint8Array {
  const payload = new Uint8Array(Layout.SHMEM_MMAP_SIZE);
  const v = new DataView(payload.buffer);
  v.setUint8(0, m.shmid);
  v.setBigUint64(8, BigInt(m.fdOffset), true);
  v.setBigUint64(16, BigInt(m.shmOffset), true);
  v.setBigUint64(24, BigInt(m.len), true);
  v.setBigUint64(32, BigInt(m.flags), true);
  return payload;
}

function fsPayload(entries: readonly FsMapEntry[]): Uint8Array {
  if (entries.length > Layout.FS_MAP_ENTRIES) {
    throw new VhostUserError(`${entries.length} ranges in one FS_MAP, the limit is ${Layout.FS_MAP_ENTRIES}`);
  }
  const payload = new Uint8Array(Layout.FS_MAP_SIZE);
  const v = new DataView(payload.buffer);
  const n = Layout.FS_MAP_ENTRIES;
  entries.forEach((e, i) => {
    v.setBigUint64(8 * i, BigInt(e.fdOffset), true);
    v.setBigUint64(8 * (n + i), BigInt(e.cacheOffset), true);
    v.setBigUint64(8 * (2 * n + i), BigInt(e.len), true);
    v.setBigUint64(8 * (3 * n + i), BigInt(e.flags), true);
  });
  return payload;
}
