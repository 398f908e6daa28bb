// INIT negotiation: the protocol version (7.31 or newer), the write size (1 MiB in 256 pages), and
// the intersection of what the guest kernel offers with what this export supports.
import type { ExportConfig } from '../passthrough/config';
import { MAP_ALIGNMENT_LOG2 } from '../passthrough/ops_dax';
import { passesAcls } from '../passthrough/xattr_map';
import {
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  FUSE_MIN_MINOR_VERSION,
  INIT_IN_COMPAT_SIZE,
  INIT_OUT_SIZE,
  InitFlag,
  InitFlag2,
  InitIn,
  InitOut,
  OUT_HEADER_SIZE,
} from './abi';
import { EINVAL, EPROTO } from './errno';
import type { Request } from './request';

export const MAX_WRITE = 1 << 20;
export const MAX_PAGES = MAX_WRITE / 4096;

export interface InitResult {
  /** The session is established. */
  readonly ok: boolean;
  /** Bytes written into the reply. */
  readonly written: number;
  /** The guest kernel accepted FUSE_SUBMOUNTS. */
  readonly submounts: boolean;
  /** The guest kernel (mounted dax=inode) accepted FUSE_HAS_INODE_DAX: FUSE_ATTR_DAX picks the files. */
  readonly inodeDax: boolean;
  /** FUSE_POSIX_ACL and FUSE_DONT_MASK: creations arrive unmasked, with the caller's umask beside. */
  readonly posixAcl: boolean;
  /** FUSE_SETXATTR_EXT: SETXATTR carries setxattr_flags (fuse_setxattr_in's 16-byte form). */
  readonly setxattrExt: boolean;
}

/** The INIT flags this export wants, before intersecting with the kernel's offer. */
function wantedFlags(config: ExportConfig): number {
  let want =
    InitFlag.ASYNC_READ |
    InitFlag.ATOMIC_O_TRUNC |
    InitFlag.BIG_WRITES |
    InitFlag.AUTO_INVAL_DATA |
    InitFlag.PARALLEL_DIROPS |
    InitFlag.MAX_PAGES |
    InitFlag.INIT_EXT;
  if (config.killprivV2 !== false) want |= InitFlag.HANDLE_KILLPRIV_V2;
  if (config.posixLocks) want |= InitFlag.POSIX_LOCKS;
  if (config.flock) want |= InitFlag.FLOCK_LOCKS;
  if (config.readdirplus) want |= InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO;
  if (config.writeback) want |= InitFlag.WRITEBACK_CACHE;
  if (config.announceSubmounts) want |= InitFlag.SUBMOUNTS;
  // The kernel offers it only when it has a DAX window; the reply then names our alignment.
  if (config.dax === true) want |= InitFlag.MAP_ALIGNMENT;
  // SETXATTR_EXT brings the flag that asks to clear set-group-ID after an ACL change.
  if (config.posixAcl === true && config.xattr && passesAcls(config.xattrmap)) {
    want |= InitFlag.POSIX_ACL | InitFlag.DONT_MASK | InitFlag.SETXATTR_EXT;
  }
  return want;
}

/**
 * Flags 32..63 this export wants. CREATE_SUPP_GROUP: the daemon has no supplementary groups, so a
 * creation by a member of the parent's group only by a supplementary one carries that group
 * (request_ext.ts); a daemon that is not root could not take it on. HAS_INODE_DAX: with a per-inode
 * threshold (the kernel offers it only when mounted dax=inode). DIRECT_IO_ALLOW_MMAP: with --allow-mmap.
 */
function wantedFlags2(config: ExportConfig): number {
  let want = process.geteuid?.() === 0 ? InitFlag2.CREATE_SUPP_GROUP : 0;
  if (config.dax === true && (config.daxMinFileBytes ?? 0) > 0) want |= InitFlag2.HAS_INODE_DAX;
  if (config.allowMmap === true) want |= InitFlag2.DIRECT_IO_ALLOW_MMAP;
  return want;
}

/** The kernel's flags 32..63: sent from 7.36 on, and valid when it sets INIT_EXT. */
function offeredFlags2(rq: Request, offered: number): number {
  return (offered & InitFlag.INIT_EXT) !== 0 && rq.has(InitIn.flags2 + 4) ? rq.u32(InitIn.flags2) : 0;
}

function writeInitOut(rq: Request, minor: number, maxReadahead: number, flags: number, flags2 = 0): void {
  const v = rq.replyView;
  const o = OUT_HEADER_SIZE;
  rq.reply.fill(0, o, o + INIT_OUT_SIZE);
  v.setUint32(o + InitOut.major, FUSE_KERNEL_VERSION, true);
  v.setUint32(o + InitOut.minor, minor, true);
  v.setUint32(o + InitOut.maxReadahead, maxReadahead, true);
  v.setUint32(o + InitOut.flags, flags >>> 0, true);
  v.setUint32(o + InitOut.maxWrite, MAX_WRITE, true);
  v.setUint32(o + InitOut.timeGran, 1, true);
  v.setUint16(o + InitOut.maxPages, MAX_PAGES, true);
  if ((flags & InitFlag.MAP_ALIGNMENT) !== 0) v.setUint16(o + InitOut.mapAlignment, MAP_ALIGNMENT_LOG2, true);
  v.setUint32(o + InitOut.flags2, flags2, true);
}

const NOT_ESTABLISHED = { ok: false, submounts: false, inodeDax: false, posixAcl: false, setxattrExt: false };

export function negotiateInit(rq: Request, config: ExportConfig): InitResult {
  const fail = (errno: number): InitResult => ({ ...NOT_ESTABLISHED, written: rq.error(errno) });
  if (!rq.has(INIT_IN_COMPAT_SIZE)) return fail(EINVAL);
  const major = rq.u32(InitIn.major);
  const minor = rq.u32(InitIn.minor);
  if (major < FUSE_KERNEL_VERSION) return fail(EPROTO);
  if (major > FUSE_KERNEL_VERSION) {
    // The kernel retries INIT with our major when we answer with it.
    writeInitOut(rq, FUSE_KERNEL_MINOR_VERSION, 0, 0);
    return { ...NOT_ESTABLISHED, written: rq.ok(INIT_OUT_SIZE) };
  }
  if (minor < FUSE_MIN_MINOR_VERSION) return fail(EPROTO);
  const offered = rq.u32(InitIn.flags);
  let flags = (offered & wantedFlags(config)) >>> 0;
  // DONT_MASK alone would leave creations unmasked with no ACL to take the umask's place.
  if ((flags & InitFlag.POSIX_ACL) === 0) flags &= ~InitFlag.DONT_MASK;
  const flags2 = (flags & InitFlag.INIT_EXT) !== 0 ? (offeredFlags2(rq, offered) & wantedFlags2(config)) >>> 0 : 0;
  writeInitOut(rq, Math.min(minor, FUSE_KERNEL_MINOR_VERSION), rq.u32(InitIn.maxReadahead), flags, flags2);
  return {
    ok: true,
    written: rq.ok(INIT_OUT_SIZE),
    submounts: (flags & InitFlag.SUBMOUNTS) !== 0,
    inodeDax: (flags2 & InitFlag2.HAS_INODE_DAX) !== 0,
    posixAcl: (flags & InitFlag.POSIX_ACL) !== 0,
    setxattrExt: (flags & InitFlag.SETXATTR_EXT) !== 0,
  };
}
