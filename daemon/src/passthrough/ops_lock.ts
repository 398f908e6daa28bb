// Lock operations: GETLK, SETLK, SETLKW (POSIX locks and, with FUSE_LK_FLOCK, flock), INTERRUPT.
import { DEFERRED } from '../virtio/descriptor_chain';
import { F_RDLCK, F_UNLCK, F_WRLCK } from '../sys/locks';
import {
  FileLock,
  FUSE_LK_FLOCK,
  IN_HEADER_SIZE,
  InHeader,
  LK_IN_SIZE,
  LK_OUT_SIZE,
  LkIn,
  OUT_HEADER_SIZE,
} from '../fuse/abi';
import { EAGAIN, EBADF, EINTR, EINVAL, ENOLCK, ENOSYS, EWOULDBLOCK } from '../fuse/errno';
import type { Request } from '../fuse/request';
import type { LockRange } from './lock_manager';
import type { PassthroughFs } from './passthrough_fs';

/** The fuse_file_lock of a lk_in as a LockRange, or null when it is malformed. */
function lockRange(rq: Request): LockRange | null {
  const v = rq.argsView;
  const base = IN_HEADER_SIZE + LkIn.lk;
  const start = v.getBigUint64(base + FileLock.start, true);
  const end = v.getBigUint64(base + FileLock.end, true);
  const type = v.getUint32(base + FileLock.type, true);
  if (start > 0x7fff_ffff_ffff_ffffn || end < start || (type !== F_RDLCK && type !== F_WRLCK && type !== F_UNLCK))
    return null;
  return { start, end: end > 0x7fff_ffff_ffff_ffffn ? 0x7fff_ffff_ffff_ffffn : end, type };
}

export function getlk(rq: Request, fs: PassthroughFs): number {
  if (!fs.config.posixLocks) return rq.error(ENOSYS);
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  if (!rq.has(LK_IN_SIZE)) return rq.error(EINVAL);
  const range = lockRange(rq);
  if (range === null) return rq.error(EINVAL);
  const r = fs.locks.getlk(inode, rq.u32(LkIn.owner), rq.u32(LkIn.owner + 4), range);
  if (r < 0) return rq.error(r);
  const v = rq.replyView;
  v.setBigUint64(OUT_HEADER_SIZE + FileLock.start, range.start, true);
  v.setBigUint64(OUT_HEADER_SIZE + FileLock.end, range.end, true);
  v.setUint32(OUT_HEADER_SIZE + FileLock.type, range.type, true);
  // Host pids mean nothing in the guest.
  v.setUint32(OUT_HEADER_SIZE + FileLock.pid, 0, true);
  return rq.ok(LK_OUT_SIZE);
}

function setlkCommon(rq: Request, fs: PassthroughFs, sleep: boolean): number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  if (!rq.has(LK_IN_SIZE)) return rq.error(EINVAL);
  const isFlock = (rq.u32(LkIn.lkFlags) & FUSE_LK_FLOCK) !== 0;
  if (isFlock ? !fs.config.flock : !fs.config.posixLocks) return rq.error(ENOSYS);
  const h = fs.handles.get(rq.id(LkIn.fh));
  if (h === undefined || h.inode !== inode) return rq.error(EBADF);
  const range = lockRange(rq);
  if (range === null) return rq.error(EINVAL);
  const ownerLo = rq.u32(LkIn.owner);
  const ownerHi = rq.u32(LkIn.owner + 4);
  const attempt = isFlock ? () => fs.locks.flock(h, range.type) : () => fs.locks.setlk(inode, ownerLo, ownerHi, range);
  const r = attempt();
  const blocked = r === -EAGAIN || r === -EWOULDBLOCK;
  if (!blocked || !sleep || rq.chain === null) return rq.result(blocked ? -EAGAIN : r);
  const unique = rq.argsView.getBigUint64(InHeader.unique, true);
  // Interrupted before it came: it would wait for an INTERRUPT already spent.
  if (fs.locks.takeEarlyInterrupt(unique)) return rq.error(EINTR);
  const parked = fs.locks.defer(rq.chain, rq.queueIndex, unique, h, attempt);
  return parked ? DEFERRED : rq.error(ENOLCK);
}

export const setlk = (rq: Request, fs: PassthroughFs): number => setlkCommon(rq, fs, false);
export const setlkw = (rq: Request, fs: PassthroughFs): number => setlkCommon(rq, fs, true);

/** Interrupts a parked SETLKW; INTERRUPT itself gets no reply. */
export function interrupt(rq: Request, fs: PassthroughFs): number {
  if (rq.has(8)) fs.locks.interrupt(rq.argsView.getBigUint64(IN_HEADER_SIZE, true));
  return 0;
}
