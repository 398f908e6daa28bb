// The VIRTIO shared-memory region (virtio-fs DAX window) as QEMU 11.1 implements it: address space
// reserved up front, into which the back-end's SHMEM_MAP requests map file ranges. Like QEMU, it
// refuses a mapping that overlaps another and unmaps only a whole mapping, and it can announce
// each writable mapping to the back-end as guest memory right after it answers, as QEMU's memory
// transaction does: ADD_MEM_REG / REM_MEM_REG to every vhost-user back end, blocking on the reply.
// With `inPlace` it plays our QEMU instead (vmm/patches): a map replaces whatever it overlaps at
// once (MAP_FIXED) and an unmap reserves its range again, mapped or not.
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

export interface WindowMapping {
  readonly shmOffset: number;
  readonly len: number;
  readonly fdOffset: number;
  readonly writable: boolean;
}

/** One back-end request as the window saw it, in order. */
export interface ServedRequest {
  readonly request: 'map' | 'unmap';
  readonly shmOffset: number;
  readonly len: number;
  readonly status: bigint;
}

/** Told about writable mappings as QEMU's memory listeners are; `fd` is borrowed. */
export interface MappingListener {
  added(m: WindowMapping, fd: number): void;
  removed(m: WindowMapping): void;
}

/** What a served request changed, for the listener. */
interface Change {
  readonly added: boolean;
  readonly m: WindowMapping;
}

const REFUSED = { status: 1n, change: null } as const;

export class ShmemWindow {
  readonly base: number;
  readonly served: ServedRequest[] = [];
  private readonly mappings = new Map<number, WindowMapping>();

  constructor(
    readonly size: number,
    private readonly inPlace = false,
  ) {
    this.base = mmap(0, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }

  /**
   * Serves one back-end request and returns its status (0 = done). `respond` acknowledges it;
   * only then does the listener hear of a writable mapping that came or went, as in QEMU.
   */
  handle(
    msg: VhostUserMessage,
    listener: MappingListener | null = null,
    respond: (status: bigint) => void = () => {},
  ): bigint {
    try {
      const { status, change } = this.apply(msg);
      respond(status);
      if (change?.m.writable && listener !== null) {
        if (change.added) listener.added(change.m, msg.fds[0]!);
        else listener.removed(change.m);
      }
      return status;
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

  private apply(msg: VhostUserMessage): { readonly status: bigint; readonly change: Change | null } {
    if (msg.payload.length < Layout.SHMEM_MMAP_SIZE) return REFUSED;
    const v = new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
    const m: WindowMapping = {
      fdOffset: Number(v.getBigUint64(8, true)),
      shmOffset: Number(v.getBigUint64(16, true)),
      len: Number(v.getBigUint64(24, true)),
      writable: (Number(v.getBigUint64(32, true)) & SHMEM_MAP_READ_WRITE) !== 0,
    };
    const inWindow = v.getUint8(0) === 0 && m.len > 0 && m.shmOffset + m.len <= this.size;
    if (msg.request === BackendRequest.SHMEM_MAP && msg.fds.length === 1) {
      const mapped = inWindow && this.map(m, msg.fds[0]!);
      this.record('map', m, mapped);
      return mapped ? { status: 0n, change: { added: true, m } } : REFUSED;
    }
    if (msg.request === BackendRequest.SHMEM_UNMAP) {
      const found = inWindow ? this.unmap(m) : null;
      this.record('unmap', m, found !== null);
      return found !== null ? { status: 0n, change: { added: false, m: found } } : REFUSED;
    }
    return REFUSED;
  }

  private map(m: WindowMapping, fd: number): boolean {
    for (const other of this.mappings.values()) {
      if (other.shmOffset < m.shmOffset + m.len && m.shmOffset < other.shmOffset + other.len) {
        if (!this.inPlace) return false;
        this.mappings.delete(other.shmOffset);
      }
    }
    const prot = PROT_READ | (m.writable ? PROT_WRITE : 0);
    mmap(this.base + m.shmOffset, m.len, prot, MAP_SHARED | MAP_FIXED, fd, m.fdOffset);
    this.mappings.set(m.shmOffset, m);
    return true;
  }

  /** Only a whole mapping comes out; returns it, or null when there is none at exactly that range. */
  private unmap(m: WindowMapping): WindowMapping | null {
    const found = this.mappings.get(m.shmOffset) ?? (this.inPlace ? m : undefined);
    if (found === undefined || found.len !== m.len) return null;
    this.mappings.delete(m.shmOffset);
    mmap(this.base + m.shmOffset, m.len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    return found;
  }

  private record(request: ServedRequest['request'], m: WindowMapping, done: boolean): void {
    this.served.push({ request, shmOffset: m.shmOffset, len: m.len, status: done ? 0n : 1n });
  }
}
