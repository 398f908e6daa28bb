// The VIRTIO shared-memory region (virtio-fs DAX window) as a VMM implements it: address space
// reserved up front, into which the back-end's SHMEM_MAP requests map file ranges.
import {
  memoryView,
  mmap,
  munmap,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from '@vfs/daemon/sys';
import { closeAll } from '@vfs/daemon/sys';
import type { VhostUserMessage } from '@vfs/daemon/vhost-user';
import { BackendRequest, Layout, SHMEM_MAP_READ_WRITE } from '@vfs/daemon/vhost-user';

export class ShmemWindow {
  readonly base: number;

  constructor(readonly size: number) {
    this.base = mmap(0, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }

  /** Serves one back-end request; returns the status to acknowledge (0 = done). */
  handle(msg: VhostUserMessage): bigint {
    try {
      if (msg.payload.length < Layout.SHMEM_MMAP_SIZE) return 1n;
      const v = new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
      const shmid = v.getUint8(0);
      const fdOffset = Number(v.getBigUint64(8, true));
      const shmOffset = Number(v.getBigUint64(16, true));
      const len = Number(v.getBigUint64(24, true));
      const flags = Number(v.getBigUint64(32, true));
      if (shmid !== 0 || len === 0 || shmOffset + len > this.size) return 1n;
      if (msg.request === BackendRequest.SHMEM_MAP && msg.fds.length === 1) {
        const prot = PROT_READ | (flags & SHMEM_MAP_READ_WRITE ? PROT_WRITE : 0);
        mmap(this.base + shmOffset, len, prot, MAP_SHARED | MAP_FIXED, msg.fds[0]!, fdOffset);
        return 0n;
      }
      if (msg.request === BackendRequest.SHMEM_UNMAP) {
        mmap(this.base + shmOffset, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        return 0n;
      }
      return 1n;
    } finally {
      closeAll(msg.fds.splice(0));
    }
  }

  /** What the guest would see at `offset` in the window (must be mapped). */
  view(offset: number, len: number): Uint8Array {
    return memoryView(this.base + offset, len);
  }

  close(): void {
    munmap(this.base, this.size);
  }
}
