// Encoding of fuse_attr and the replies built around it, straight from a statx buffer.
import { STX } from '../sys/fs';
import { Attr, ATTR_OUT_SIZE, AttrOut, ENTRY_OUT_SIZE, EntryOut } from './abi';

function copyU64(dst: DataView, dOff: number, src: DataView, sOff: number): void {
  dst.setUint32(dOff, src.getUint32(sOff, true), true);
  dst.setUint32(dOff + 4, src.getUint32(sOff + 4, true), true);
}

/** Linux's new_encode_dev: the 32-bit device number the guest decodes. */
function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** Host → guest owners of the attributes sent (--translate-uid/--translate-gid; identity without). */
export interface AttrOwners {
  guestUid(hostUid: number): number;
  guestGid(hostGid: number): number;
}

/** Writes a fuse_attr at `off` from statx result `stx`. */
export function encodeAttr(dst: DataView, off: number, stx: DataView, flags: number, owners: AttrOwners): void {
  copyU64(dst, off + Attr.ino, stx, STX.ino);
  copyU64(dst, off + Attr.size, stx, STX.size);
  copyU64(dst, off + Attr.blocks, stx, STX.blocks);
  copyU64(dst, off + Attr.atime, stx, STX.atime);
  copyU64(dst, off + Attr.mtime, stx, STX.mtime);
  copyU64(dst, off + Attr.ctime, stx, STX.ctime);
  dst.setUint32(off + Attr.atimensec, stx.getUint32(STX.atime + 8, true), true);
  dst.setUint32(off + Attr.mtimensec, stx.getUint32(STX.mtime + 8, true), true);
  dst.setUint32(off + Attr.ctimensec, stx.getUint32(STX.ctime + 8, true), true);
  dst.setUint32(off + Attr.mode, stx.getUint16(STX.mode, true), true);
  dst.setUint32(off + Attr.nlink, stx.getUint32(STX.nlink, true), true);
  dst.setUint32(off + Attr.uid, owners.guestUid(stx.getUint32(STX.uid, true)), true);
  dst.setUint32(off + Attr.gid, owners.guestGid(stx.getUint32(STX.gid, true)), true);
  dst.setUint32(
    off + Attr.rdev,
    encodeDev(stx.getUint32(STX.rdevMajor, true), stx.getUint32(STX.rdevMinor, true)),
    true,
  );
  dst.setUint32(off + Attr.blksize, stx.getUint32(STX.blksize, true), true);
  dst.setUint32(off + Attr.flags, flags, true);
}

/** Writes a fuse_entry_out at `off`; returns its size. */
export function encodeEntry(
  dst: DataView,
  off: number,
  nodeid: number,
  timeoutSec: number,
  stx: DataView,
  flags: number,
  owners: AttrOwners,
): number {
  dst.setUint32(off + EntryOut.nodeid, nodeid, true);
  dst.setUint32(off + EntryOut.nodeid + 4, Math.floor(nodeid / 0x1_0000_0000), true);
  dst.setUint32(off + EntryOut.generation, 0, true);
  dst.setUint32(off + EntryOut.generation + 4, 0, true);
  dst.setUint32(off + EntryOut.entryValid, timeoutSec, true);
  dst.setUint32(off + EntryOut.entryValid + 4, 0, true);
  dst.setUint32(off + EntryOut.attrValid, timeoutSec, true);
  dst.setUint32(off + EntryOut.attrValid + 4, 0, true);
  dst.setUint32(off + EntryOut.entryValidNsec, 0, true);
  dst.setUint32(off + EntryOut.attrValidNsec, 0, true);
  encodeAttr(dst, off + EntryOut.attr, stx, flags, owners);
  return ENTRY_OUT_SIZE;
}

/** Writes a fuse_attr_out at `off`; returns its size. */
export function encodeAttrOut(
  dst: DataView,
  off: number,
  timeoutSec: number,
  stx: DataView,
  flags: number,
  owners: AttrOwners,
): number {
  dst.setUint32(off + AttrOut.attrValid, timeoutSec, true);
  dst.setUint32(off + AttrOut.attrValid + 4, 0, true);
  dst.setUint32(off + AttrOut.attrValidNsec, 0, true);
  dst.setUint32(off + AttrOut.attrValidNsec + 4, 0, true);
  encodeAttr(dst, off + AttrOut.attr, stx, flags, owners);
  return ATTR_OUT_SIZE;
}
