// Name-space and attribute operations: LOOKUP, FORGET, BATCH_FORGET, GETATTR, SETATTR, READLINK,
// SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, RENAME2, LINK, ACCESS, STATFS.
import {
  AT_EACCESS,
  AT_EMPTY_PATH,
  AT_REMOVEDIR,
  AT_SYMLINK_FOLLOW,
  AT_SYMLINK_NOFOLLOW,
  EMPTY_PATH,
  faccessat,
  fchmod,
  fchmodat,
  fchownat,
  fstatfs,
  ftruncate,
  linkat,
  mkdirat,
  mknodat,
  O_WRONLY,
  readlinkat,
  renameat2,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  S_ISGID,
  S_ISUID,
  S_IXGRP,
  STATFS,
  STATFS_SIZE,
  STX,
  symlinkat,
  unlinkat,
  UTIME_NOW,
  UTIME_OMIT,
  utimensat,
  W_OK,
} from '../sys/fs';
import { tryClose } from '../sys/fd';
import {
  ENTRY_OUT_SIZE,
  Fattr,
  FORGET_ONE_SIZE,
  GETATTR_IN_SIZE,
  KSTATFS_SIZE,
  Kstatfs,
  LINK_IN_SIZE,
  MKDIR_IN_SIZE,
  MkdirIn,
  MKNOD_IN_SIZE,
  MknodIn,
  OUT_HEADER_SIZE,
  RENAME_EXCHANGE,
  RENAME_IN_SIZE,
  RENAME_NOREPLACE,
  RENAME_WHITEOUT,
  RENAME2_IN_SIZE,
  Rename2In,
  SETATTR_IN_SIZE,
  SetattrIn,
} from '../fuse/abi';
import { encodeAttrOut, encodeEntry } from '../fuse/encode';
import { EBADF, EINVAL, EISDIR, EPERM, EROFS } from '../fuse/errno';
import type { Request } from '../fuse/request';
import { suppGroupOf } from '../fuse/request_ext';
import { escapedError } from './containment';
import type { Inode } from './inode_table';
import { NO_UMASK, type PassthroughFs } from './passthrough_fs';

const PATH_MAX = 4096;

/** Replies with a fuse_entry_out for a lookup result. */
export function replyEntry(rq: Request, fs: PassthroughFs, r: Inode | number): number {
  if (typeof r === 'number') return rq.error(r);
  const flags = fs.attrFlags(r, fs.statView);
  encodeEntry(rq.replyView, OUT_HEADER_SIZE, r.nodeid, fs.policy.timeoutSec, fs.statView, flags, fs.ids);
  return rq.ok(ENTRY_OUT_SIZE);
}

/** Stats the inode and replies with a fuse_attr_out. */
function replyAttr(rq: Request, fs: PassthroughFs, inode: Inode): number {
  const r = fs.statFd(inode.fd);
  if (r < 0) return rq.error(r);
  const flags = fs.attrFlags(inode, fs.statView);
  return rq.ok(encodeAttrOut(rq.replyView, OUT_HEADER_SIZE, fs.policy.timeoutSec, fs.statView, flags, fs.ids));
}

/**
 * Clears set-user-ID, and set-group-ID when group-executable, as a write by an unprivileged
 * process would (the daemon itself holds CAP_FSETID, so the host kernel would not).
 */
function killSuidgid(fs: PassthroughFs, inode: Inode): number {
  const mode = suidgidCleared(fs, inode.fd);
  return mode < 0 ? mode : mode === NO_CHANGE ? 0 : fchmodat(fs.procFd, inode.procName, mode);
}

/** killSuidgid for an fd open for I/O. */
export function killSuidgidFd(fs: PassthroughFs, fd: number): number {
  const mode = suidgidCleared(fs, fd);
  return mode < 0 ? mode : mode === NO_CHANGE ? 0 : fchmod(fd, mode);
}

const NO_CHANGE = 0x10000;

/** The mode without the privilege bits to kill, NO_CHANGE when there are none, or -errno. */
function suidgidCleared(fs: PassthroughFs, fd: number): number {
  const r = fs.statFd(fd);
  if (r < 0) return r;
  const mode = fs.statView.getUint16(STX.mode, true) & 0o7777;
  const kill = (mode & S_ISUID) !== 0 || ((mode & S_ISGID) !== 0 && (mode & S_IXGRP) !== 0);
  return kill ? mode & ~(S_ISUID | S_ISGID) : NO_CHANGE;
}

export function lookup(rq: Request, fs: PassthroughFs): number {
  const parent = fs.inode(rq.nodeid);
  if (typeof parent === 'number') return rq.error(parent);
  const len = rq.entryName(0);
  if (len < 0) return rq.error(len);
  const escaped = escapedError(parent);
  if (escaped < 0) return rq.error(escaped);
  return replyEntry(rq, fs, fs.lookup(parent, rq.cstr(0)));
}

export function forget(rq: Request, fs: PassthroughFs): number {
  const inode = fs.inodes.get(rq.nodeid);
  if (inode !== undefined && rq.has(8)) fs.inodes.forget(inode, rq.u64(0));
  return 0;
}

export function batchForget(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(8)) return 0;
  const count = Math.min(rq.u32(0), Math.floor((rq.argLen - 8) / FORGET_ONE_SIZE));
  for (let i = 0; i < count; i++) {
    const off = 8 + i * FORGET_ONE_SIZE;
    const inode = fs.inodes.get(rq.id(off));
    if (inode !== undefined) fs.inodes.forget(inode, rq.u64(off + 8));
  }
  return 0;
}

export function getattr(rq: Request, fs: PassthroughFs): number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  if (!rq.has(GETATTR_IN_SIZE)) return rq.error(EINVAL);
  return replyAttr(rq, fs, inode);
}

/** Builds the struct timespec[2] for utimensat from the setattr arguments. */
function fillTimes(rq: Request, valid: number, times: DataView): void {
  const set = (slot: number, given: number, now: number, secOff: number, nsecOff: number): void => {
    if (valid & now) {
      times.setUint32(slot, 0, true);
      times.setUint32(slot + 4, 0, true);
      times.setUint32(slot + 8, UTIME_NOW, true);
    } else if (valid & given) {
      rq.rawU64(secOff, times, slot);
      times.setUint32(slot + 8, rq.u32(nsecOff), true);
    } else {
      times.setUint32(slot + 8, UTIME_OMIT, true);
    }
    times.setUint32(slot + 12, 0, true);
  };
  set(0, Fattr.ATIME, Fattr.ATIME_NOW, SetattrIn.atime, SetattrIn.atimensec);
  set(16, Fattr.MTIME, Fattr.MTIME_NOW, SetattrIn.mtime, SetattrIn.mtimensec);
}

const timesBuf = Buffer.alloc(32);
const timesView = new DataView(timesBuf.buffer, timesBuf.byteOffset, 32);

function truncate(fs: PassthroughFs, inode: Inode, fd: number, size: number): number {
  if (fd >= 0) return ftruncate(fd, size);
  if (inode.type === S_IFDIR) return -EISDIR;
  if (inode.type !== S_IFREG) return -EINVAL;
  const wfd = fs.reopen(inode, O_WRONLY);
  if (wfd < 0) return wfd;
  const r = ftruncate(wfd, size);
  const closed = tryClose(wfd);
  return r < 0 ? r : closed;
}

/** Applies the SETATTR changes one by one, stopping at the first failure (as virtiofsd does). */
function applySetattr(rq: Request, fs: PassthroughFs, inode: Inode, fd: number): number {
  const valid = rq.u32(SetattrIn.valid);
  let r = 0;
  if (valid & Fattr.MODE) {
    const mode = rq.u32(SetattrIn.mode) & 0o7777;
    if (fd >= 0) r = fchmod(fd, mode);
    else r = inode.type === S_IFLNK ? -EPERM : fchmodat(fs.procFd, inode.procName, mode);
    if (r < 0) return r;
  }
  if (valid & (Fattr.UID | Fattr.GID)) {
    // The guest's ids, as host ids (-EPERM when forbidden); chown's -1 is never translated.
    const uid = valid & Fattr.UID ? fs.ids.hostUid(rq.u32(SetattrIn.uid)) : 0xffffffff;
    const gid = valid & Fattr.GID ? fs.ids.hostGid(rq.u32(SetattrIn.gid)) : 0xffffffff;
    if (uid < 0 || gid < 0) return Math.min(uid, gid);
    // A chown drops the file capability (the kernel drops the host's own; this a renamed one).
    r = fs.xattr.killCapability(inode, fd);
    if (r < 0) return r;
    r = fchownat(fd >= 0 ? fd : inode.fd, EMPTY_PATH, uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (r < 0) return r;
  }
  if (valid & Fattr.SIZE) {
    const size = rq.offset(SetattrIn.size);
    if (size < 0) return -EINVAL;
    r = fs.xattr.killCapability(inode, fd);
    if (r < 0) return r;
    r = truncate(fs, inode, fd, size);
    if (r < 0) return r;
    if (valid & Fattr.KILL_SUIDGID) r = killSuidgid(fs, inode);
    if (r < 0) return r;
  }
  if (valid & (Fattr.ATIME | Fattr.MTIME | Fattr.ATIME_NOW | Fattr.MTIME_NOW)) {
    fillTimes(rq, valid, timesView);
    r = utimensat(fd >= 0 ? fd : inode.fd, EMPTY_PATH, timesBuf, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
  }
  return r;
}

export function setattr(rq: Request, fs: PassthroughFs): number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  if (!rq.has(SETATTR_IN_SIZE)) return rq.error(EINVAL);
  if (fs.config.readonly) return rq.error(EROFS);
  let fd = -1;
  if (rq.u32(SetattrIn.valid) & Fattr.FH) {
    const h = fs.handles.get(rq.id(SetattrIn.fh));
    if (h === undefined || h.inode !== inode) return rq.error(EBADF);
    fd = h.fd;
  }
  const r = applySetattr(rq, fs, inode, fd);
  return r < 0 ? rq.error(r) : replyAttr(rq, fs, inode);
}

export function readlink(rq: Request, fs: PassthroughFs): number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  if (inode.type !== S_IFLNK) return rq.error(EINVAL);
  return rq.result(readlinkat(inode.fd, EMPTY_PATH, rq.payload, Math.min(PATH_MAX, rq.replyRoom())));
}

/**
 * Runs a creation as the caller (under its umask when the guest left that to us: `mask`), then
 * looks the new name up for the entry reply.
 */
function create(
  rq: Request,
  fs: PassthroughFs,
  parent: Inode,
  nameOff: number,
  make: () => number,
  mask = NO_UMASK,
): number {
  if (fs.config.readonly) return rq.error(EROFS);
  const escaped = escapedError(parent);
  if (escaped < 0) return rq.error(escaped);
  const group = suppGroupOf(rq);
  if (group < 0) return rq.error(group);
  const entered = fs.enterCreds(rq.uid, rq.gid, group, mask);
  if (entered < 0) return rq.error(entered);
  let r: number;
  try {
    r = make();
  } finally {
    // The umask is the process's: left set, it would mask every export's later creations.
    fs.leaveCreds(rq.uid, rq.gid, group, mask);
  }
  if (r < 0) return rq.error(r);
  return replyEntry(rq, fs, fs.lookup(parent, rq.cstr(nameOff)));
}

export function symlink(rq: Request, fs: PassthroughFs): number {
  const parent = fs.inode(rq.nodeid);
  if (typeof parent === 'number') return rq.error(parent);
  const len = rq.entryName(0);
  if (len < 0) return rq.error(len);
  const targetLen = rq.strlen(len + 1);
  if (targetLen <= 0 || targetLen >= PATH_MAX) return rq.error(EINVAL);
  return create(rq, fs, parent, 0, () => symlinkat(rq.cstr(len + 1), parent.fd, rq.cstr(0)));
}

/**
 * What mknod(2) makes: regular files, FIFOs, sockets and device nodes, as virtiofsd allows. A
 * device node stays inert on the host: the daemon never opens one (PassthroughFs.reopen) and its
 * view of the share is nodev, as are the shim's binds; the guest opens its own device.
 */
function mknodMakes(mode: number): boolean {
  const type = mode & S_IFMT;
  return type === S_IFREG || type === S_IFIFO || type === S_IFSOCK || type === S_IFCHR || type === S_IFBLK;
}

export function mknod(rq: Request, fs: PassthroughFs): number {
  const parent = fs.inode(rq.nodeid);
  if (typeof parent === 'number') return rq.error(parent);
  if (!rq.has(MKNOD_IN_SIZE)) return rq.error(EINVAL);
  const len = rq.entryName(MKNOD_IN_SIZE);
  if (len < 0) return rq.error(len);
  const mode = rq.u32(MknodIn.mode);
  if (!mknodMakes(mode)) return rq.error(EPERM);
  // The guest's dev_t is the kernel's 32-bit encoding, which mknodat(2) takes as it is.
  const rdev = rq.u32(MknodIn.rdev);
  const made = () => mknodat(parent.fd, rq.cstr(MKNOD_IN_SIZE), mode, rdev);
  return create(rq, fs, parent, MKNOD_IN_SIZE, made, rq.u32(MknodIn.umask));
}

export function mkdir(rq: Request, fs: PassthroughFs): number {
  const parent = fs.inode(rq.nodeid);
  if (typeof parent === 'number') return rq.error(parent);
  if (!rq.has(MKDIR_IN_SIZE)) return rq.error(EINVAL);
  const len = rq.entryName(MKDIR_IN_SIZE);
  if (len < 0) return rq.error(len);
  const mode = rq.u32(MkdirIn.mode) & 0o7777;
  const made = () => mkdirat(parent.fd, rq.cstr(MKDIR_IN_SIZE), mode);
  return create(rq, fs, parent, MKDIR_IN_SIZE, made, rq.u32(MkdirIn.umask));
}

function remove(rq: Request, fs: PassthroughFs, flags: number): number {
  const parent = fs.inode(rq.nodeid);
  if (typeof parent === 'number') return rq.error(parent);
  const len = rq.entryName(0);
  if (len < 0) return rq.error(len);
  if (fs.config.readonly) return rq.error(EROFS);
  const escaped = escapedError(parent);
  if (escaped < 0) return rq.error(escaped);
  return rq.result(unlinkat(parent.fd, rq.cstr(0), flags));
}

export const unlink = (rq: Request, fs: PassthroughFs): number => remove(rq, fs, 0);
export const rmdir = (rq: Request, fs: PassthroughFs): number => remove(rq, fs, AT_REMOVEDIR);

function doRename(rq: Request, fs: PassthroughFs, argSize: number, flags: number): number {
  const oldDir = fs.inode(rq.nodeid);
  const newDir = fs.inode(rq.id(0));
  if (typeof oldDir === 'number') return rq.error(oldDir);
  if (typeof newDir === 'number') return rq.error(newDir);
  const oldLen = rq.entryName(argSize);
  if (oldLen < 0) return rq.error(oldLen);
  const newOff = argSize + oldLen + 1;
  const newLen = rq.entryName(newOff);
  if (newLen < 0) return rq.error(newLen);
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return rq.error(EINVAL);
  if (fs.config.readonly) return rq.error(EROFS);
  const escaped = escapedError(oldDir) || escapedError(newDir);
  if (escaped < 0) return rq.error(escaped);
  return rq.result(renameat2(oldDir.fd, rq.cstr(argSize), newDir.fd, rq.cstr(newOff), flags));
}

export function rename(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(RENAME_IN_SIZE)) return rq.error(EINVAL);
  return doRename(rq, fs, RENAME_IN_SIZE, 0);
}

export function rename2(rq: Request, fs: PassthroughFs): number {
  if (!rq.has(RENAME2_IN_SIZE)) return rq.error(EINVAL);
  return doRename(rq, fs, RENAME2_IN_SIZE, rq.u32(Rename2In.flags));
}

export function link(rq: Request, fs: PassthroughFs): number {
  const newParent = fs.inode(rq.nodeid);
  if (!rq.has(LINK_IN_SIZE)) return rq.error(EINVAL);
  const inode = fs.inode(rq.id(0));
  if (typeof newParent === 'number') return rq.error(newParent);
  if (typeof inode === 'number') return rq.error(inode);
  const len = rq.entryName(LINK_IN_SIZE);
  if (len < 0) return rq.error(len);
  if (fs.config.readonly) return rq.error(EROFS);
  const escaped = escapedError(newParent);
  if (escaped < 0) return rq.error(escaped);
  // Through /proc/self/fd: linking an O_PATH fd by AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH.
  const r = linkat(fs.procFd, inode.procName, newParent.fd, rq.cstr(LINK_IN_SIZE), AT_SYMLINK_FOLLOW);
  if (r < 0) return rq.error(r);
  return replyEntry(rq, fs, fs.lookup(newParent, rq.cstr(LINK_IN_SIZE)));
}

export function access(rq: Request, fs: PassthroughFs): number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  if (!rq.has(8)) return rq.error(EINVAL);
  const mask = rq.u32(0);
  if (fs.config.readonly && mask & W_OK) return rq.error(EROFS);
  const entered = fs.enterCreds(rq.uid, rq.gid);
  if (entered < 0) return rq.error(entered);
  const r = faccessat(fs.procFd, inode.procName, mask, AT_EACCESS);
  fs.leaveCreds(rq.uid, rq.gid);
  return rq.result(r);
}

const statfsBuf = Buffer.alloc(STATFS_SIZE);
const statfsView = new DataView(statfsBuf.buffer, statfsBuf.byteOffset, STATFS_SIZE);

export function statfs(rq: Request, fs: PassthroughFs): number {
  const inode = fs.inode(rq.nodeid);
  if (typeof inode === 'number') return rq.error(inode);
  const r = fstatfs(inode.fd, statfsBuf);
  if (r < 0) return rq.error(r);
  const out = rq.replyView;
  const base = OUT_HEADER_SIZE;
  rq.reply.fill(0, base, base + KSTATFS_SIZE);
  const copy = (dst: number, src: number): void => {
    out.setUint32(base + dst, statfsView.getUint32(src, true), true);
    out.setUint32(base + dst + 4, statfsView.getUint32(src + 4, true), true);
  };
  copy(Kstatfs.blocks, STATFS.blocks);
  copy(Kstatfs.bfree, STATFS.bfree);
  copy(Kstatfs.bavail, STATFS.bavail);
  copy(Kstatfs.files, STATFS.files);
  copy(Kstatfs.ffree, STATFS.ffree);
  out.setUint32(base + Kstatfs.bsize, statfsView.getUint32(STATFS.bsize, true), true);
  out.setUint32(base + Kstatfs.namelen, statfsView.getUint32(STATFS.namelen, true), true);
  out.setUint32(base + Kstatfs.frsize, statfsView.getUint32(STATFS.frsize, true), true);
  return rq.ok(KSTATFS_SIZE);
}
