// Extended attributes: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR, with the export's name mapping.
// A zero size asks for the length only; a too-small buffer answers ERANGE.
//
// The guest never sets or removes the host's security.capability: the daemon holds CAP_SETFCAP,
// so that would hand capabilities to host processes that run the file. A map that moves the name
// elsewhere (`:map:security.capability:user.virtiofs.:`) gives the guest file capabilities of its
// own. Reading it passes through: an image's file capabilities then still work in the guest.
import { XATTR_LIST_MAX } from '../sys/xattr';
import { fchmodat, S_ISGID, STX } from '../sys/fs';
import {
  FUSE_SETXATTR_ACL_KILL_SGID,
  GETXATTR_IN_SIZE,
  IN_HEADER_SIZE,
  GETXATTR_OUT_SIZE,
  OUT_HEADER_SIZE,
  SETXATTR_IN_COMPAT_SIZE,
  SETXATTR_IN_SIZE,
  SetxattrIn,
} from '../fuse/abi';
import { EINVAL, ENODATA, ENOSYS, EPERM, ERANGE, EROFS } from '../fuse/errno';
import type { Request } from '../fuse/request';
import { isAccessAclName, isAclName, translateAclIds } from './acl_ids';
import type { Inode } from './inode_table';
import type { PassthroughFs } from './passthrough_fs';

const XATTR_NAME_MAX = 255;
const CAPABILITY = Buffer.from('security.capability\0', 'latin1');
const listBuf = Buffer.alloc(XATTR_LIST_MAX);

/** The host name (NUL-terminated) for the guest's name at argument offset `off`, or -errno. */
function hostName(rq: Request, fs: PassthroughFs, off: number): Buffer | number {
  const len = rq.strlen(off);
  if (len < 0) return len;
  if (len === 0) return -EINVAL;
  if (len > XATTR_NAME_MAX) return -ERANGE;
  if (fs.xattrMap === null) return rq.cstr(off);
  const mapped = fs.xattrMap.toHost(rq.args.toString('latin1', IN_HEADER_SIZE + off, IN_HEADER_SIZE + off + len));
  return typeof mapped === 'number' ? mapped : Buffer.from(`${mapped}\0`, 'latin1');
}

/**
 * The host name for a change by the guest, or -errno: EPERM for security.capability, as the kernel
 * answers a caller without CAP_SETFCAP and a `bad` map rule answers.
 */
function changedName(rq: Request, fs: PassthroughFs, off: number): Buffer | number {
  const name = hostName(rq, fs, off);
  if (typeof name === 'number') return name;
  return name.subarray(0, CAPABILITY.length).equals(CAPABILITY) ? -EPERM : name;
}

function target(rq: Request, fs: PassthroughFs): Inode | number {
  if (!fs.config.xattr) return -ENOSYS;
  return fs.inode(rq.nodeid);
}

function replySize(rq: Request, size: number): number {
  rq.replyView.setUint32(OUT_HEADER_SIZE, size, true);
  rq.replyView.setUint32(OUT_HEADER_SIZE + 4, 0, true);
  return rq.ok(GETXATTR_OUT_SIZE);
}

export function getxattr(rq: Request, fs: PassthroughFs): number {
  const inode = target(rq, fs);
  if (typeof inode === 'number') return rq.error(inode);
  if (!rq.has(GETXATTR_IN_SIZE)) return rq.error(EINVAL);
  const name = hostName(rq, fs, GETXATTR_IN_SIZE);
  // A name the mapping forbids simply does not exist for the guest.
  if (typeof name === 'number') return rq.error(name === -EPERM ? ENODATA : name);
  const size = Math.min(rq.u32(0), fs.xattr.value.length, rq.replyRoom());
  const r = fs.xattr.get(inode, name, size);
  if (r < 0) return rq.error(r);
  if (rq.u32(0) === 0) return replySize(rq, r);
  if (fs.ids.translates && isAclName(rq.cstr(GETXATTR_IN_SIZE))) translateAclIds(fs.xattr.value, r, fs.ids.aclToGuest);
  fs.xattr.value.copy(rq.reply, OUT_HEADER_SIZE, 0, r);
  return rq.ok(r);
}

export function setxattr(rq: Request, fs: PassthroughFs): number {
  const inode = target(rq, fs);
  if (typeof inode === 'number') return rq.error(inode);
  const argSize = fs.setxattrExt ? SETXATTR_IN_SIZE : SETXATTR_IN_COMPAT_SIZE;
  if (!rq.has(argSize)) return rq.error(EINVAL);
  if (fs.config.readonly) return rq.error(EROFS);
  const name = changedName(rq, fs, argSize);
  if (typeof name === 'number') return rq.error(name);
  const size = rq.u32(SetxattrIn.size);
  const valueOff = argSize + rq.strlen(argSize) + 1;
  if (size > fs.xattr.value.length || valueOff + size > rq.argLen) return rq.error(EINVAL);
  rq.args.copy(fs.xattr.value, 0, IN_HEADER_SIZE + valueOff, IN_HEADER_SIZE + valueOff + size);
  if (fs.ids.translates && isAclName(rq.cstr(argSize))) {
    const translated = translateAclIds(fs.xattr.value, size, fs.ids.aclToHost);
    if (translated < 0) return rq.error(translated);
  }
  const r = fs.xattr.set(inode, name, size, rq.u32(SetxattrIn.flags));
  if (r < 0) return rq.error(r);
  return rq.result(killsSgid(rq, fs, argSize) ? killSgid(fs, inode) : 0);
}

/**
 * An access ACL set by a caller the guest kernel judged (FUSE_SETXATTR_ACL_KILL_SGID), its name at
 * argument offset `nameOff`: the kernel sends the flag for default ACLs too, which change no mode.
 */
function killsSgid(rq: Request, fs: PassthroughFs, nameOff: number): boolean {
  return (
    fs.setxattrExt &&
    (rq.u32(SetxattrIn.setxattrFlags) & FUSE_SETXATTR_ACL_KILL_SGID) !== 0 &&
    isAccessAclName(rq.cstr(nameOff))
  );
}

/**
 * After an ACL change by a caller neither in the file's group nor holding CAP_FSETID (the guest
 * kernel's judgement, FUSE_SETXATTR_ACL_KILL_SGID): clears set-group-ID, as the host kernel would
 * for such a caller; the daemon holds CAP_FSETID, so the host kept it.
 */
function killSgid(fs: PassthroughFs, inode: Inode): number {
  const r = fs.statFd(inode.fd);
  if (r < 0) return r;
  const mode = fs.statView.getUint16(STX.mode, true) & 0o7777;
  return (mode & S_ISGID) === 0 ? 0 : fchmodat(fs.procFd, inode.procName, mode & ~S_ISGID);
}

/** Rewrites the host's name list into the guest's view in listBuf; returns its length. */
function mapList(fs: PassthroughFs, len: number): number {
  const map = fs.xattrMap;
  if (map === null) return len;
  const names = listBuf.toString('latin1', 0, len).split('\0').slice(0, -1);
  const mapped = names.map((n) => map.toGuest(n)).filter((n): n is string => n !== null);
  const text = mapped.map((n) => `${n}\0`).join('');
  return listBuf.write(text, 0, 'latin1');
}

export function listxattr(rq: Request, fs: PassthroughFs): number {
  const inode = target(rq, fs);
  if (typeof inode === 'number') return rq.error(inode);
  if (!rq.has(GETXATTR_IN_SIZE)) return rq.error(EINVAL);
  const r = fs.xattr.list(inode, listBuf, listBuf.length);
  if (r < 0) return rq.error(r);
  const len = mapList(fs, r);
  const size = rq.u32(0);
  if (size === 0) return replySize(rq, len);
  if (len > size || len > rq.replyRoom()) return rq.error(ERANGE);
  listBuf.copy(rq.reply, OUT_HEADER_SIZE, 0, len);
  return rq.ok(len);
}

export function removexattr(rq: Request, fs: PassthroughFs): number {
  const inode = target(rq, fs);
  if (typeof inode === 'number') return rq.error(inode);
  if (fs.config.readonly) return rq.error(EROFS);
  const name = changedName(rq, fs, 0);
  if (typeof name === 'number') return rq.error(name);
  return rq.result(fs.xattr.remove(inode, name));
}
