// DAX: SETUPMAPPING and REMOVEMAPPING. The guest kernel maps files into the virtio-fs DAX window
// (VIRTIO shared-memory region 0) in 2 MiB chunks; each range is checked here and the front-end
// is asked, over the vhost-user back-end channel, to mmap the file there. The window lives in the
// VMM; the connection's ShmemRequests keeps which chunks hold a mapping, and a new mapping replaces
// whatever was at its window offset (in place on our QEMU; after an unmap where the front-end
// refuses an overlapping map, as upstream QEMU 11.1 does: shmem_requests.ts).
// Offsets and lengths must be whole chunks, as the kernel sends them: a window then holds at most
// one mapping per chunk (window / 2 MiB), so a guest cannot make the VMM split it into a mapping
// per page and run it out of mappings (vm.max_map_count).
import { DAX_CHUNK_MIB, daxWindowBytes } from '@vfs/contracts';
import {
  FUSE_SETUPMAPPING_FLAG_READ,
  FUSE_SETUPMAPPING_FLAG_WRITE,
  REMOVEMAPPING_IN_SIZE,
  REMOVEMAPPING_MAX_ENTRIES,
  REMOVEMAPPING_ONE_SIZE,
  RemovemappingOne,
  SETUPMAPPING_IN_SIZE,
  SetupmappingIn,
} from '../fuse/abi';
import { EACCES, EBADF, EINVAL, ENOSYS, EROFS } from '../fuse/errno';
import type { Request } from '../fuse/request';
import { O_RDONLY, O_RDWR, S_IFREG } from '../sys/fs';
import { tryClose } from '../sys/fd';
import type { BackendRequests } from '../virtio/descriptor_chain';
import type { Inode } from './inode_table';
import type { PassthroughFs } from './passthrough_fs';

/** The kernel's FUSE_DAX_SZ: the unit of every mapping. */
const CHUNK = daxWindowBytes(DAX_CHUNK_MIB);
/** init_out.map_alignment: log2 of the alignment of foffset and moffset we require (the kernel takes up to 21). */
export const MAP_ALIGNMENT_LOG2 = Math.log2(CHUNK);

const KNOWN_FLAGS = FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE;
/** Each half of the u64 fh the kernel sends when it maps by inode (it always does: fh = -1). */
const NO_FH_HALF = 0xffff_ffff;

/** The front-end's window when DAX is on for this export and the front-end can map; else null. */
function daxBackend(fs: PassthroughFs): BackendRequests | null {
  return fs.config.dax === true ? fs.backend() : null;
}

function aligned(offset: number): boolean {
  return offset >= 0 && offset % CHUNK === 0;
}

/** Whole chunks from a chunk of the window, ending inside it. */
function inWindow(moffset: number, len: number, windowSize: number): boolean {
  return aligned(moffset) && len > 0 && len % CHUNK === 0 && len <= windowSize && moffset <= windowSize - len;
}

/** Flags as a u64: READ and/or WRITE, nothing else. */
function validFlags(rq: Request): boolean {
  const low = rq.u32(SetupmappingIn.flags);
  return rq.u32(SetupmappingIn.flags + 4) === 0 && low !== 0 && (low & ~KNOWN_FLAGS) === 0;
}

/** The node to map; when the guest names a handle too, it must be an open file of that node. */
function mappedInode(rq: Request, fs: PassthroughFs): Inode | number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return inode;
  if (inode.type !== S_IFREG) return -EACCES;
  if (rq.u32(SetupmappingIn.fh) === NO_FH_HALF && rq.u32(SetupmappingIn.fh + 4) === NO_FH_HALF) return inode;
  const handle = fs.handles.get(rq.id(SetupmappingIn.fh));
  return handle !== undefined && handle.inode === inode ? inode : -EBADF;
}

export function setupmapping(rq: Request, fs: PassthroughFs): number {
  const backend = daxBackend(fs);
  if (backend === null) return rq.error(ENOSYS);
  if (!rq.has(SETUPMAPPING_IN_SIZE) || !validFlags(rq)) return rq.error(EINVAL);
  const foffset = rq.offset(SetupmappingIn.foffset);
  const len = rq.offset(SetupmappingIn.len);
  const moffset = rq.offset(SetupmappingIn.moffset);
  // One chunk, as the kernel maps (FUSE_DAX_SZ): a longer range would hold the device loop for a
  // front-end round trip per chunk (a 64 GiB window: 32,768). Removals undo only what was mapped.
  // Above 2^53 a Number is no longer exact, and no real file reaches that far.
  if (
    len !== CHUNK ||
    !inWindow(moffset, len, backend.windowSize) ||
    !aligned(foffset) ||
    foffset > Number.MAX_SAFE_INTEGER - len
  ) {
    return rq.error(EINVAL);
  }
  const writable = (rq.u32(SetupmappingIn.flags) & FUSE_SETUPMAPPING_FLAG_WRITE) !== 0;
  if (writable && fs.config.readonly) return rq.error(EROFS);
  const inode = mappedInode(rq, fs);
  if (typeof inode === 'number') return rq.error(inode);
  const fd = fs.reopen(inode, writable ? O_RDWR : O_RDONLY);
  if (fd < 0) return rq.error(fd);
  // The front-end keeps its own duplicate of the fd in its mapping; ours goes either way.
  try {
    backend.map({ fd, fdOffset: foffset, shmOffset: moffset, len, writable });
  } finally {
    // Nothing was written through this fd: the mapping's writes are the front-end's.
    tryClose(fd);
  }
  return rq.ok(0);
}

export function removemapping(rq: Request, fs: PassthroughFs): number {
  const backend = daxBackend(fs);
  if (backend === null) return rq.error(ENOSYS);
  if (!rq.has(REMOVEMAPPING_IN_SIZE)) return rq.error(EINVAL);
  const count = rq.u32(0);
  if (count > REMOVEMAPPING_MAX_ENTRIES || !rq.has(REMOVEMAPPING_IN_SIZE + count * REMOVEMAPPING_ONE_SIZE)) {
    return rq.error(EINVAL);
  }
  // Every range is checked first: a bad entry must not leave the request half done.
  for (let i = 0; i < count; i++) {
    const at = REMOVEMAPPING_IN_SIZE + i * REMOVEMAPPING_ONE_SIZE;
    if (!inWindow(rq.offset(at + RemovemappingOne.moffset), rq.offset(at + RemovemappingOne.len), backend.windowSize)) {
      return rq.error(EINVAL);
    }
  }
  for (let i = 0; i < count; i++) {
    const at = REMOVEMAPPING_IN_SIZE + i * REMOVEMAPPING_ONE_SIZE;
    backend.unmap(rq.offset(at + RemovemappingOne.moffset), rq.offset(at + RemovemappingOne.len));
  }
  return rq.ok(0);
}
