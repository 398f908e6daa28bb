// The state of one exported directory for one guest session, and the primitives every operation
// shares: stat into a reused buffer, look a name up into the inode table (or a READDIRPLUS page's
// names in one native call), reopen an O_PATH inode through /proc/self/fd, and run a creation under
// the caller's fs uid/gid.
import { SysError } from '../sys/libc';
import { tryClose } from '../sys/fd';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  cPath,
  EMPTY_PATH,
  O_CLOEXEC,
  O_DIRECTORY,
  O_PATH,
  openat,
  S_IFDIR,
  S_IFMT,
  STX,
  statx,
  STATX_BASIC_STATS,
  STATX_BTIME,
  STATX_MNT_ID,
  STATX_SIZE,
  umask,
} from '../sys/fs';
import { clearThreadGroups, setfsgid, setfsuid, setThreadGroup } from '../sys/creds';
import { restoreParentDeathSignal } from '../sys/parent_death';
import { NO_SUPP_GROUP } from '../fuse/request_ext';
import { FUSE_ATTR_SUBMOUNT, FUSE_ROOT_ID } from '../fuse/abi';
import type { Logger } from '../log';
import { EACCES, EBADF, EINVAL, EMFILE, ENFILE, ENOTDIR } from '../fuse/errno';
import { LB_HANDLES, LB_OPEN, LookupBatch } from '../sys/lookup_batch';
import { cachePolicy, DEFAULT_LIMITS, type CachePolicy, type ExportConfig } from './config';
import { HandleTable } from './handle_table';
import { bornAs, InodeTable, mntIdOf, opensForIo, type Inode } from './inode_table';
import { InodeFdCache } from './inode_fds';
import { InodeHandles } from './inode_handles';
import { inodeDaxFlag } from './inode_dax';
import { XattrMap } from './xattr_map';
import { IdTranslation } from './id_translation';
import { LockManager } from './lock_manager';
import { XattrIo } from './xattr_io';
import { NO_BACKEND, type BackendAccess, type CompletionSink } from '../virtio/descriptor_chain';

/** (uid_t)-1 / (gid_t)-1. */
const NO_ID = 0xffff_ffff;
/** enterCreds: not a creation, the umask stays 0. */
export const NO_UMASK = -1;

/** Birth time too: it tells a handle inode from a later one its freed number went to (inode_table.ts). */
const STAT_MASK = STATX_BASIC_STATS | STATX_MNT_ID | STATX_BTIME;

export class PassthroughFs {
  readonly config: ExportConfig;
  readonly policy: CachePolicy;
  readonly log: Logger;
  readonly inodes = new InodeTable(new InodeFdCache((handle) => this.fileHandles.open(handle)));
  /** --inode-file-handles: whether new inodes are held by handle or by fd. */
  readonly fileHandles: InodeHandles;
  readonly handles: HandleTable;
  readonly xattrMap: XattrMap | null;
  /** --translate-uid / --translate-gid: the ids requests act as, and the owners the guest sees. */
  readonly ids: IdTranslation;
  readonly procFd: number;
  readonly root: Inode;
  /** statx result of the last stat call; read it before the next one. */
  readonly stat = Buffer.alloc(STATX_SIZE);
  readonly statView = new DataView(this.stat.buffer, this.stat.byteOffset, STATX_SIZE);
  /** The attributes of the last batchEntry() result: its slot in the batch, or `statView`. */
  entryStat: DataView = this.statView;
  /** READDIRPLUS's names and their lookups. */
  readonly batch = new LookupBatch();
  /** One name's lookup (its statx lands in `stat`); apart from `batch`, which a page may be using. */
  private readonly single = new LookupBatch(1, this.stat);
  /** The guest kernel accepted FUSE_SUBMOUNTS. */
  submounts = false;
  /** The guest accepted FUSE_HAS_INODE_DAX: regular files of at least this size get FUSE_ATTR_DAX; 0 = none. */
  daxMinFileBytes = 0;
  /** The guest accepted FUSE_POSIX_ACL (and FUSE_DONT_MASK): creations take the umask they carry. */
  posixAcl = false;
  /** The guest accepted FUSE_SETXATTR_EXT: SETXATTR's argument is the 16-byte form. */
  setxattrExt = false;
  /** Moving share of lookups that found an inode already known (picks the lookup's first call). */
  private knownRate = 0;
  private readonly ownUid: number;
  private readonly ownGid: number;

  readonly locks: LockManager;
  readonly xattr: XattrIo;

  constructor(
    config: ExportConfig,
    complete: CompletionSink,
    /** The front-end's back-end channel, for DAX mappings. */
    readonly backend: BackendAccess = NO_BACKEND,
  ) {
    this.config = config;
    this.policy = cachePolicy(config.cache);
    this.log = config.logger;
    this.xattrMap = config.xattrmap === undefined ? null : XattrMap.parse(config.xattrmap);
    this.ids = new IdTranslation(config.translateUid, config.translateGid);
    this.procFd = config.procSelfFd;
    // setfsuid(-1) changes nothing and returns the current id.
    this.fileHandles = new InodeHandles(config.inodeFileHandles ?? 'never', config.rootFd, setfsuid(-1));
    this.root = this.openRoot(config.rootFd);
    this.xattr = new XattrIo(this);
    const limits = config.limits ?? DEFAULT_LIMITS;
    this.handles = new HandleTable(this.inodes, limits.maxOpenHandles);
    this.locks = new LockManager(
      config.readonly,
      complete,
      (inode, flags) => this.reopen(inode, flags),
      this.inodes,
      limits,
    );
    // setfsuid(-1) changes nothing and returns the current id.
    this.ownUid = setfsuid(-1);
    this.ownGid = setfsgid(-1);
    // Modes arrive with the guest's umask already applied (unless POSIX ACLs are on: then
    // creations set theirs, enterCreds); ours must not mask them again.
    umask(0);
  }

  /** statx of an inode fd (O_PATH or not) into `stat`; 0 or -errno. */
  statFd(fd: number): number {
    return statx(fd, EMPTY_PATH, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STAT_MASK, this.stat);
  }

  /**
   * Looks `name` (NUL-terminated, already validated) up in `parent` and counts one lookup.
   * On success `stat` holds its attributes. Returns the inode or -errno.
   */
  lookup(parent: Inode, name: Uint8Array): Inode | number {
    // A known inode costs one statx by name; a new one an openat and a statx of the fd (a statx
    // by name first would be a third call). Guess from the recent lookups which one this is.
    if (this.knownRate < 0.5) return this.lookupByOpen(parent, name);
    const r = statx(parent.fd, name, AT_SYMLINK_NOFOLLOW, STAT_MASK, this.stat);
    if (r < 0) return r;
    const known = this.inodes.find(this.statView);
    if (known !== undefined && this.stillNames(known, parent, name, this.statView)) return this.found(known);
    return this.lookupByOpen(parent, name);
  }

  /**
   * Looks up the names queued in `batch` (by READDIRPLUS) under `parent` in one native call, as
   * lookup() would one by one: opened (new inodes expected) or statted by name (known ones).
   * Take each result with batchEntry(), in order. 0 or -errno.
   */
  lookupBatch(parent: Inode, batch: LookupBatch): number {
    const fd = parent.fd;
    if (fd < 0) return fd;
    if (this.knownRate >= 0.5) return batch.run(fd, 0, STAT_MASK, 0);
    const handles = this.fileHandles.mode === 'never' ? 0 : LB_HANDLES;
    return batch.run(fd, LB_OPEN | handles, STAT_MASK, this.root.mntId);
  }

  /**
   * Entry `i` of the last lookupBatch(), `name` (NUL-terminated) its name: the inode, one lookup
   * counted, with its attributes in `entryStat`; or -errno. A name that met the fd limit in the
   * batch (whose other fds were still open) is looked up again alone.
   */
  batchEntry(parent: Inode, batch: LookupBatch, i: number, name: Uint8Array): Inode | number {
    const r = batch.result[i]!;
    this.entryStat = batch.stat[i]!;
    if (r === -EMFILE || r === -ENFILE) {
      this.entryStat = this.statView;
      return this.lookup(parent, name);
    }
    if (r < 0) return r;
    const stx = this.entryStat;
    if ((batch.flags & LB_OPEN) !== 0) {
      const handleLen = this.fileHandles.accept(batch.handleLen[i]!);
      return this.adoptOpened(parent, r, stx, handleLen > 0 ? batch.handle[i]! : null, handleLen);
    }
    const known = this.inodes.find(stx);
    if (known !== undefined && this.stillNames(known, parent, name, stx)) return this.found(known);
    this.entryStat = this.statView;
    return this.lookupByOpen(parent, name);
  }

  /**
   * Opens `name` O_PATH and stats the fd: what we hold is what we describe, even if renamed
   * meanwhile. The openat, statx (into `stat`) and name_to_handle_at are one native call.
   */
  private lookupByOpen(parent: Inode, name: Uint8Array): Inode | number {
    const one = this.single;
    one.clear();
    if (!one.add(name, 0, name.indexOf(0))) return -EINVAL;
    const handles = this.fileHandles.mode === 'never' ? 0 : LB_HANDLES;
    const r = one.run(parent.fd, LB_OPEN | handles, STAT_MASK, this.root.mntId);
    const fd = r < 0 ? r : one.result[0]!;
    if (fd < 0) return fd;
    const handleLen = this.fileHandles.accept(one.handleLen[0]!);
    return this.adoptOpened(parent, fd, this.statView, handleLen > 0 ? one.handle[0]! : null, handleLen);
  }

  /**
   * Takes `fd`, just opened from `parent` and described by `stx`, as the inode it names: a known
   * one (the fd is closed) or a new one holding it, or the file handle in `handle`'s first
   * `handleLen` bytes (null and 0: hold the fd; negative: that error, the fd closed).
   */
  private adoptOpened(
    parent: Inode,
    fd: number,
    stx: DataView,
    handle: Buffer | null,
    handleLen: number,
  ): Inode | number {
    if (handleLen < 0) {
      tryClose(fd);
      return handleLen;
    }
    const known = this.inodes.find(stx, handle, handleLen);
    if (known !== undefined) {
      tryClose(fd);
      return this.found(known);
    }
    this.knownRate -= this.knownRate / 8;
    const held = handle === null ? null : Buffer.from(handle.subarray(0, handleLen));
    return this.inodes.add(fd, stx, undefined, this.isSubmount(parent, stx), held);
  }

  /**
   * Whether `name` (just statted) still is the known inode its key matched. An fd (held, or cached
   * for a handle inode) pins the inode, so its number cannot have been reused; a bare handle does
   * not: the birth time tells, or where the file system keeps none, the name's own handle.
   */
  private stillNames(known: Inode, parent: Inode, name: Uint8Array, stx: DataView): boolean {
    if (known.handle === null || known.pathFd >= 0) return true;
    return bornAs(known, stx) ?? this.fileHandles.names(known.handle, parent.fd, name);
  }

  private found(inode: Inode): Inode {
    this.knownRate += (1 - this.knownRate) / 8;
    inode.refcount++;
    return inode;
  }

  /**
   * The inode for a guest node id with its fd at hand, or -errno: EBADF for an unknown id, and for
   * an inode held by handle that no longer opens, the open's error (ESTALE: the host freed it),
   * which the guest's kernel answers by looking the path up again, as with virtiofsd.
   */
  inode(nodeid: number): Inode | number {
    const inode = nodeid < 0 ? undefined : this.inodes.get(nodeid);
    if (inode === undefined) return -EBADF;
    const fd = inode.fd;
    return fd < 0 ? fd : inode;
  }

  /**
   * Opens the inode for I/O through /proc/self/fd (O_PATH fds cannot read); fd or -errno. Every
   * open for I/O comes here, so no device node or FIFO is ever opened: EACCES, as open(2) of a
   * device node answers on a nodev mount (virtiofsd answers EBADF, which open(2) never does).
   */
  reopen(inode: Inode, flags: number): number {
    if (!opensForIo(inode.type)) return -EACCES;
    // A handle inode whose fd no longer opens: its error (ESTALE), not /proc's ENOENT for "-1".
    const fd = inode.fd;
    if (fd < 0) return fd;
    return openat(this.procFd, inode.procName, flags | O_CLOEXEC);
  }

  /** fuse_attr.flags for an inode whose statx result is `stx`. */
  attrFlags(inode: Inode, stx: DataView): number {
    return (this.submounts && inode.submount ? FUSE_ATTR_SUBMOUNT : 0) | inodeDaxFlag(stx, this.daxMinFileBytes);
  }

  /**
   * Switches this thread's fs ids to the caller's, so new files get the caller as owner, and for a
   * creation the kernel sent one with, makes `group` its supplementary group (the daemon has none:
   * the kernel then keeps set-group-ID exactly when the caller is in the file's group). The guest's
   * ids are translated first; a forbidden one (forbid-guest) is -EPERM with nothing changed. With
   * POSIX ACLs, a creation's `mask` (the caller's umask) becomes the process's, for the host to
   * apply where the parent has no default ACL, as a local file system would. 0 or -errno.
   */
  enterCreds(uid: number, gid: number, group = NO_SUPP_GROUP, mask = NO_UMASK): number {
    const hostUid = this.ids.hostUid(uid);
    const hostGid = this.ids.hostGid(gid);
    const hostGroup = group === NO_SUPP_GROUP ? group : this.ids.hostGid(group);
    if (hostUid < 0) return hostUid;
    if (hostGid < 0) return hostGid;
    if (hostGroup < 0) return hostGroup;
    // (uid_t)-1 is no id: setfsuid/setfsgid take it as "leave as is", so the request would run as
    // the daemon (root), past every translation rule (which end at 0xfffffffe).
    if (hostUid === NO_ID || hostGid === NO_ID || hostGroup === NO_ID) return -EINVAL;
    if (hostGroup !== NO_SUPP_GROUP) {
      const r = setThreadGroup(hostGroup);
      if (r < 0) return r;
    }
    if (hostGid !== this.ownGid) setfsgid(hostGid);
    if (hostUid !== this.ownUid) setfsuid(hostUid);
    if (mask !== NO_UMASK && this.posixAcl) umask(mask & 0o777);
    return 0;
  }

  /** Undoes enterCreds with the same guest ids and umask. */
  leaveCreds(uid: number, gid: number, group = NO_SUPP_GROUP, mask = NO_UMASK): void {
    if (mask !== NO_UMASK && this.posixAcl) umask(0);
    const otherUid = this.ids.hostUid(uid) !== this.ownUid;
    const otherGid = this.ids.hostGid(gid) !== this.ownGid;
    if (otherUid) setfsuid(this.ownUid);
    if (otherGid) setfsgid(this.ownGid);
    // The id changes cleared it: a daemon unshare started must still die with unshare.
    if (otherUid || otherGid) restoreParentDeathSignal();
    // Only losing CAP_SETGID meanwhile could fail it: a thread left in the group must not serve.
    if (group === NO_SUPP_GROUP) return;
    const r = clearThreadGroups();
    if (r < 0) throw new SysError('setgroups(0) after a request', -r);
  }

  /** Forgets the session: every inode but the root, every handle. */
  reset(): void {
    this.locks.reset();
    this.handles.clear();
    this.inodes.clear();
    this.submounts = false;
    this.daxMinFileBytes = 0;
    this.posixAcl = false;
    this.setxattrExt = false;
  }

  private isSubmount(parent: Inode, stx: DataView): boolean {
    return (
      this.config.announceSubmounts &&
      (stx.getUint16(STX.mode, true) & S_IFMT) === S_IFDIR &&
      mntIdOf(stx) !== parent.mntId
    );
  }

  /** The export's root is the caller's fd itself: it outlives every session. */
  private openRoot(rootFd: number): Inode {
    const r = this.statFd(rootFd);
    if (r < 0) throw new SysError(`statx(export root fd ${rootFd})`, -r);
    if ((this.statView.getUint16(STX.mode, true) & S_IFMT) !== S_IFDIR)
      throw new SysError(`export root fd ${rootFd}`, ENOTDIR);
    return this.inodes.add(rootFd, this.statView, FUSE_ROOT_ID, false);
  }
}

/** Opens /proc/self/fd for ExportConfig.procSelfFd; call it before any sandboxing hides /proc. */
export function openProcSelfFd(): number {
  const fd = openat(AT_FDCWD, cPath('/proc/self/fd'), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw new SysError('openat("/proc/self/fd")', -fd);
  return fd;
}
