// A FUSE client that plays the guest kernel over a VirtioFsTransport: it builds requests as the
// virtio-fs driver lays them out (in-header, argument block, data in separate buffers) and parses
// replies. Failed requests throw FuseError carrying the errno the daemon answered.
import * as abi from '@vfs/daemon/fuse';
import { HIPRIO_QUEUE, REQUEST_QUEUE, type VirtioFsTransport } from './transport';

export class FuseError extends Error {
  constructor(
    readonly opcode: number,
    readonly errno: number,
  ) {
    super(`FUSE opcode ${opcode} failed: errno ${errno}`);
    this.name = 'FuseError';
  }
}

/** The errno `fn` failed with (via FuseError), or 0 when it succeeded. */
export function errnoOf(fn: () => unknown): number {
  try {
    fn();
    return 0;
  } catch (e) {
    if (e instanceof FuseError) return e.errno;
    throw e;
  }
}

export interface FuseAttr {
  ino: bigint;
  size: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
  atimensec: number;
  mtimensec: number;
  ctimensec: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
  flags: number;
}

export interface FuseEntry {
  nodeid: number;
  generation: number;
  entryValid: number;
  attrValid: number;
  attr: FuseAttr;
}

export interface FuseDirent {
  ino: bigint;
  off: bigint;
  type: number;
  name: string;
}

export interface FuseDirentPlus extends FuseDirent {
  entry: FuseEntry;
}

export interface InitReply {
  major: number;
  minor: number;
  flags: number;
  /** INIT flags 32..63 (with FUSE_INIT_EXT). */
  flags2: number;
  maxWrite: number;
  maxPages: number;
  timeGran: number;
  /** log2 of the DAX mapping alignment (with FUSE_MAP_ALIGNMENT). */
  mapAlignment: number;
}

export interface OpenReply {
  fh: number;
  openFlags: number;
}

export interface FileLock {
  start: bigint;
  end: bigint;
  type: number;
  pid: number;
}

export interface SetattrArgs {
  fh?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: { sec: number; nsec: number } | 'now';
  mtime?: { sec: number; nsec: number } | 'now';
  killSuidgid?: boolean;
}

export interface Reply {
  error: number;
  unique: bigint;
  /** The payload after the out-header. */
  data: Buffer;
}

/** Kernel 6.x INIT offer: everything a virtio-fs guest typically announces. */
export const DEFAULT_INIT_FLAGS =
  abi.InitFlag.ASYNC_READ |
  abi.InitFlag.POSIX_LOCKS |
  abi.InitFlag.ATOMIC_O_TRUNC |
  abi.InitFlag.EXPORT_SUPPORT |
  abi.InitFlag.BIG_WRITES |
  abi.InitFlag.DONT_MASK |
  abi.InitFlag.FLOCK_LOCKS |
  abi.InitFlag.AUTO_INVAL_DATA |
  abi.InitFlag.DO_READDIRPLUS |
  abi.InitFlag.READDIRPLUS_AUTO |
  abi.InitFlag.ASYNC_DIO |
  abi.InitFlag.WRITEBACK_CACHE |
  abi.InitFlag.PARALLEL_DIROPS |
  abi.InitFlag.HANDLE_KILLPRIV |
  abi.InitFlag.POSIX_ACL |
  abi.InitFlag.ABORT_ERROR |
  abi.InitFlag.MAX_PAGES |
  abi.InitFlag.CACHE_SYMLINKS |
  abi.InitFlag.SUBMOUNTS |
  abi.InitFlag.HANDLE_KILLPRIV_V2 |
  abi.InitFlag.SETXATTR_EXT |
  abi.InitFlag.INIT_EXT;

const SMALL_REPLY = 4096;

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}

function u64(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

export function parseAttr(b: Buffer, off: number): FuseAttr {
  return {
    ino: b.readBigUInt64LE(off + abi.Attr.ino),
    size: Number(b.readBigUInt64LE(off + abi.Attr.size)),
    blocks: Number(b.readBigUInt64LE(off + abi.Attr.blocks)),
    atime: Number(b.readBigInt64LE(off + abi.Attr.atime)),
    mtime: Number(b.readBigInt64LE(off + abi.Attr.mtime)),
    ctime: Number(b.readBigInt64LE(off + abi.Attr.ctime)),
    atimensec: b.readUInt32LE(off + abi.Attr.atimensec),
    mtimensec: b.readUInt32LE(off + abi.Attr.mtimensec),
    ctimensec: b.readUInt32LE(off + abi.Attr.ctimensec),
    mode: b.readUInt32LE(off + abi.Attr.mode),
    nlink: b.readUInt32LE(off + abi.Attr.nlink),
    uid: b.readUInt32LE(off + abi.Attr.uid),
    gid: b.readUInt32LE(off + abi.Attr.gid),
    rdev: b.readUInt32LE(off + abi.Attr.rdev),
    blksize: b.readUInt32LE(off + abi.Attr.blksize),
    flags: b.readUInt32LE(off + abi.Attr.flags),
  };
}

export function parseEntry(b: Buffer, off: number): FuseEntry {
  return {
    nodeid: Number(b.readBigUInt64LE(off + abi.EntryOut.nodeid)),
    generation: Number(b.readBigUInt64LE(off + abi.EntryOut.generation)),
    entryValid: Number(b.readBigUInt64LE(off + abi.EntryOut.entryValid)),
    attrValid: Number(b.readBigUInt64LE(off + abi.EntryOut.attrValid)),
    attr: parseAttr(b, off + abi.EntryOut.attr),
  };
}

function parseDirent(b: Buffer, off: number): { d: FuseDirent; size: number } {
  const namelen = b.readUInt32LE(off + abi.Dirent.namelen);
  return {
    d: {
      ino: b.readBigUInt64LE(off + abi.Dirent.ino),
      off: b.readBigUInt64LE(off + abi.Dirent.off),
      type: b.readUInt32LE(off + abi.Dirent.type),
      name: b.toString('utf8', off + abi.Dirent.name, off + abi.Dirent.name + namelen),
    },
    size: abi.recAlign(abi.DIRENT_HEADER_SIZE + namelen),
  };
}

export class FuseClient {
  /** Credentials put in every in-header. */
  uid = 0;
  gid = 0;
  pid = 1;
  /**
   * Request extensions (8-byte aligned fuse_ext_header blocks) appended to what `request` sends,
   * as the kernel appends them to creations; null for none.
   */
  extensions: Buffer | null = null;
  private nextUnique = 1n;
  /** INIT agreed on FUSE_SETXATTR_EXT: SETXATTR sends fuse_setxattr_in's 16-byte form. */
  private setxattrExt = false;

  constructor(private readonly transport: VirtioFsTransport) {}

  /** The in-header for a request whose arguments total `argLen` bytes. */
  header(opcode: number, nodeid: number | bigint, argLen: number, unique = this.nextUnique++): Buffer {
    const h = Buffer.alloc(abi.IN_HEADER_SIZE);
    h.writeUInt32LE(abi.IN_HEADER_SIZE + argLen, abi.InHeader.len);
    h.writeUInt32LE(opcode, abi.InHeader.opcode);
    h.writeBigUInt64LE(unique, abi.InHeader.unique);
    h.writeBigUInt64LE(u64(nodeid), abi.InHeader.nodeid);
    h.writeUInt32LE(this.uid, abi.InHeader.uid);
    h.writeUInt32LE(this.gid, abi.InHeader.gid);
    h.writeUInt32LE(this.pid, abi.InHeader.pid);
    return h;
  }

  /** Sends raw readable parts (the first being the in-header) and returns the parsed reply. */
  send(parts: readonly Uint8Array[], writableLen: number, queue = REQUEST_QUEUE): Reply {
    const raw = Buffer.from(this.transport.call(queue, { readable: parts, writableLen }));
    if (writableLen === 0) return { error: 0, unique: 0n, data: Buffer.alloc(0) };
    if (raw.length < abi.OUT_HEADER_SIZE) throw new Error(`short FUSE reply: ${raw.length} bytes`);
    const len = raw.readUInt32LE(abi.OutHeader.len);
    if (len !== raw.length) throw new Error(`FUSE reply length ${len} but ${raw.length} bytes written`);
    const error = raw.readInt32LE(abi.OutHeader.error);
    return {
      error: error === 0 ? 0 : -error,
      unique: raw.readBigUInt64LE(abi.OutHeader.unique),
      data: raw.subarray(abi.OUT_HEADER_SIZE),
    };
  }

  /** A request with its argument parts; throws FuseError on an error reply. */
  request(
    opcode: number,
    nodeid: number | bigint,
    args: readonly Uint8Array[],
    writableLen: number,
    queue = REQUEST_QUEUE,
  ): Buffer {
    const all: readonly Uint8Array[] = this.extensions === null ? args : [...args, this.extensions];
    const argLen = all.reduce((n, a) => n + a.length, 0);
    const h = this.header(opcode, nodeid, argLen);
    if (this.extensions !== null) h.writeUInt16LE(this.extensions.length / 8, abi.InHeader.totalExtlen);
    const r = this.send([h, ...all], writableLen, queue);
    if (r.error !== 0) throw new FuseError(opcode, r.error);
    return r.data;
  }

  init(flags = DEFAULT_INIT_FLAGS, minor = abi.FUSE_KERNEL_MINOR_VERSION, flags2 = 0): InitReply {
    const a = Buffer.alloc(abi.INIT_IN_SIZE);
    a.writeUInt32LE(abi.FUSE_KERNEL_VERSION, abi.InitIn.major);
    a.writeUInt32LE(minor, abi.InitIn.minor);
    a.writeUInt32LE(128 * 1024, abi.InitIn.maxReadahead);
    a.writeUInt32LE(flags >>> 0, abi.InitIn.flags);
    a.writeUInt32LE(flags2 >>> 0, abi.InitIn.flags2);
    const d = this.request(abi.Opcode.INIT, 0, [a], abi.OUT_HEADER_SIZE + abi.INIT_OUT_SIZE);
    this.setxattrExt = (d.readUInt32LE(abi.InitOut.flags) & abi.InitFlag.SETXATTR_EXT) !== 0;
    return {
      major: d.readUInt32LE(abi.InitOut.major),
      minor: d.readUInt32LE(abi.InitOut.minor),
      flags: d.readUInt32LE(abi.InitOut.flags),
      flags2: d.readUInt32LE(abi.InitOut.flags2),
      maxWrite: d.readUInt32LE(abi.InitOut.maxWrite),
      maxPages: d.readUInt16LE(abi.InitOut.maxPages),
      timeGran: d.readUInt32LE(abi.InitOut.timeGran),
      mapAlignment: d.readUInt16LE(abi.InitOut.mapAlignment),
    };
  }

  destroy(): void {
    this.request(abi.Opcode.DESTROY, 0, [], abi.OUT_HEADER_SIZE);
  }

  lookup(parent: number, name: string): FuseEntry {
    return parseEntry(this.request(abi.Opcode.LOOKUP, parent, [cstr(name)], SMALL_REPLY), 0);
  }

  forget(nodeid: number, nlookup: number): void {
    const a = Buffer.alloc(abi.FORGET_IN_SIZE);
    a.writeBigUInt64LE(u64(nlookup));
    this.send([this.header(abi.Opcode.FORGET, nodeid, a.length), a], 0, HIPRIO_QUEUE);
  }

  batchForget(items: readonly { nodeid: number; nlookup: number }[]): void {
    const a = Buffer.alloc(abi.BATCH_FORGET_IN_SIZE + items.length * abi.FORGET_ONE_SIZE);
    a.writeUInt32LE(items.length, 0);
    items.forEach((it, i) => {
      a.writeBigUInt64LE(u64(it.nodeid), 8 + i * 16);
      a.writeBigUInt64LE(u64(it.nlookup), 16 + i * 16);
    });
    this.send([this.header(abi.Opcode.BATCH_FORGET, 0, a.length), a], 0, HIPRIO_QUEUE);
  }

  getattr(nodeid: number, fh?: number): FuseAttr {
    const a = Buffer.alloc(abi.GETATTR_IN_SIZE);
    if (fh !== undefined) {
      a.writeUInt32LE(abi.FUSE_GETATTR_FH, abi.GetattrIn.flags);
      a.writeBigUInt64LE(u64(fh), abi.GetattrIn.fh);
    }
    return parseAttr(this.request(abi.Opcode.GETATTR, nodeid, [a], SMALL_REPLY), abi.AttrOut.attr);
  }

  setattr(nodeid: number, s: SetattrArgs): FuseAttr {
    const a = Buffer.alloc(abi.SETATTR_IN_SIZE);
    let valid = 0;
    if (s.fh !== undefined) {
      valid |= abi.Fattr.FH;
      a.writeBigUInt64LE(u64(s.fh), abi.SetattrIn.fh);
    }
    if (s.mode !== undefined) {
      valid |= abi.Fattr.MODE;
      a.writeUInt32LE(s.mode, abi.SetattrIn.mode);
    }
    if (s.uid !== undefined) {
      valid |= abi.Fattr.UID;
      a.writeUInt32LE(s.uid, abi.SetattrIn.uid);
    }
    if (s.gid !== undefined) {
      valid |= abi.Fattr.GID;
      a.writeUInt32LE(s.gid, abi.SetattrIn.gid);
    }
    if (s.size !== undefined) {
      valid |= abi.Fattr.SIZE;
      a.writeBigUInt64LE(u64(s.size), abi.SetattrIn.size);
    }
    if (s.atime === 'now') valid |= abi.Fattr.ATIME | abi.Fattr.ATIME_NOW;
    else if (s.atime !== undefined) {
      valid |= abi.Fattr.ATIME;
      a.writeBigInt64LE(BigInt(s.atime.sec), abi.SetattrIn.atime);
      a.writeUInt32LE(s.atime.nsec, abi.SetattrIn.atimensec);
    }
    if (s.mtime === 'now') valid |= abi.Fattr.MTIME | abi.Fattr.MTIME_NOW;
    else if (s.mtime !== undefined) {
      valid |= abi.Fattr.MTIME;
      a.writeBigInt64LE(BigInt(s.mtime.sec), abi.SetattrIn.mtime);
      a.writeUInt32LE(s.mtime.nsec, abi.SetattrIn.mtimensec);
    }
    if (s.killSuidgid) valid |= abi.Fattr.KILL_SUIDGID;
    a.writeUInt32LE(valid, abi.SetattrIn.valid);
    return parseAttr(this.request(abi.Opcode.SETATTR, nodeid, [a], SMALL_REPLY), abi.AttrOut.attr);
  }

  readlink(nodeid: number): string {
    return this.request(abi.Opcode.READLINK, nodeid, [], abi.OUT_HEADER_SIZE + 4096).toString('utf8');
  }

  symlink(parent: number, name: string, target: string): FuseEntry {
    return parseEntry(this.request(abi.Opcode.SYMLINK, parent, [cstr(name), cstr(target)], SMALL_REPLY), 0);
  }

  mknod(parent: number, name: string, mode: number, rdev = 0, umask = 0): FuseEntry {
    const a = Buffer.alloc(abi.MKNOD_IN_SIZE);
    a.writeUInt32LE(mode, abi.MknodIn.mode);
    a.writeUInt32LE(rdev, abi.MknodIn.rdev);
    a.writeUInt32LE(umask, abi.MknodIn.umask);
    return parseEntry(this.request(abi.Opcode.MKNOD, parent, [Buffer.concat([a, cstr(name)])], SMALL_REPLY), 0);
  }

  mkdir(parent: number, name: string, mode: number, umask = 0): FuseEntry {
    const a = Buffer.alloc(abi.MKDIR_IN_SIZE);
    a.writeUInt32LE(mode, abi.MkdirIn.mode);
    a.writeUInt32LE(umask, abi.MkdirIn.umask);
    return parseEntry(this.request(abi.Opcode.MKDIR, parent, [Buffer.concat([a, cstr(name)])], SMALL_REPLY), 0);
  }

  unlink(parent: number, name: string): void {
    this.request(abi.Opcode.UNLINK, parent, [cstr(name)], abi.OUT_HEADER_SIZE);
  }

  rmdir(parent: number, name: string): void {
    this.request(abi.Opcode.RMDIR, parent, [cstr(name)], abi.OUT_HEADER_SIZE);
  }

  /** RENAME, or RENAME2 when `flags` is given. */
  rename(parent: number, name: string, newParent: number, newName: string, flags?: number): void {
    const two = flags !== undefined;
    const a = Buffer.alloc(two ? abi.RENAME2_IN_SIZE : abi.RENAME_IN_SIZE);
    a.writeBigUInt64LE(u64(newParent), 0);
    if (two) a.writeUInt32LE(flags, abi.Rename2In.flags);
    const op = two ? abi.Opcode.RENAME2 : abi.Opcode.RENAME;
    this.request(op, parent, [Buffer.concat([a, cstr(name), cstr(newName)])], abi.OUT_HEADER_SIZE);
  }

  link(nodeid: number, newParent: number, newName: string): FuseEntry {
    const a = Buffer.alloc(abi.LINK_IN_SIZE);
    a.writeBigUInt64LE(u64(nodeid), 0);
    return parseEntry(this.request(abi.Opcode.LINK, newParent, [Buffer.concat([a, cstr(newName)])], SMALL_REPLY), 0);
  }

  access(nodeid: number, mask: number): void {
    const a = Buffer.alloc(abi.ACCESS_IN_SIZE);
    a.writeUInt32LE(mask, 0);
    this.request(abi.Opcode.ACCESS, nodeid, [a], abi.OUT_HEADER_SIZE);
  }

  statfs(nodeid: number): {
    blocks: number;
    bfree: number;
    bavail: number;
    files: number;
    ffree: number;
    bsize: number;
    namelen: number;
    frsize: number;
  } {
    const d = this.request(abi.Opcode.STATFS, nodeid, [], SMALL_REPLY);
    const n = (off: number): number => Number(d.readBigUInt64LE(off));
    return {
      blocks: n(abi.Kstatfs.blocks),
      bfree: n(abi.Kstatfs.bfree),
      bavail: n(abi.Kstatfs.bavail),
      files: n(abi.Kstatfs.files),
      ffree: n(abi.Kstatfs.ffree),
      bsize: d.readUInt32LE(abi.Kstatfs.bsize),
      namelen: d.readUInt32LE(abi.Kstatfs.namelen),
      frsize: d.readUInt32LE(abi.Kstatfs.frsize),
    };
  }

  private parseOpen(d: Buffer, off: number): OpenReply {
    return {
      fh: Number(d.readBigUInt64LE(off + abi.OpenOut.fh)),
      openFlags: d.readUInt32LE(off + abi.OpenOut.openFlags),
    };
  }

  open(nodeid: number, flags: number, openFlags = 0): OpenReply {
    const a = Buffer.alloc(abi.OPEN_IN_SIZE);
    a.writeUInt32LE(flags, abi.OpenIn.flags);
    a.writeUInt32LE(openFlags, abi.OpenIn.openFlags);
    return this.parseOpen(this.request(abi.Opcode.OPEN, nodeid, [a], SMALL_REPLY), 0);
  }

  create(parent: number, name: string, flags: number, mode: number, umask = 0): { entry: FuseEntry } & OpenReply {
    const a = Buffer.alloc(abi.CREATE_IN_SIZE);
    a.writeUInt32LE(flags, abi.CreateIn.flags);
    a.writeUInt32LE(mode, abi.CreateIn.mode);
    a.writeUInt32LE(umask, abi.CreateIn.umask);
    const d = this.request(abi.Opcode.CREATE, parent, [Buffer.concat([a, cstr(name)])], SMALL_REPLY);
    return { entry: parseEntry(d, 0), ...this.parseOpen(d, abi.ENTRY_OUT_SIZE) };
  }

  private ioIn(size: number, fh: number, offset: number | bigint, len: number, flags: number): Buffer {
    const a = Buffer.alloc(size);
    a.writeBigUInt64LE(u64(fh), abi.ReadIn.fh);
    a.writeBigUInt64LE(u64(offset), abi.ReadIn.offset);
    a.writeUInt32LE(len, abi.ReadIn.size);
    a.writeUInt32LE(flags, abi.ReadIn.readFlags);
    return a;
  }

  read(nodeid: number, fh: number, offset: number, size: number): Buffer {
    const a = this.ioIn(abi.READ_IN_SIZE, fh, offset, size, 0);
    return this.request(abi.Opcode.READ, nodeid, [a], abi.OUT_HEADER_SIZE + size);
  }

  write(nodeid: number, fh: number, offset: number, data: Uint8Array, writeFlags = 0): number {
    const a = this.ioIn(abi.WRITE_IN_SIZE, fh, offset, data.length, writeFlags);
    return this.request(abi.Opcode.WRITE, nodeid, [a, data], SMALL_REPLY).readUInt32LE(0);
  }

  flush(nodeid: number, fh: number, lockOwner: bigint = 0n): void {
    const a = Buffer.alloc(abi.FLUSH_IN_SIZE);
    a.writeBigUInt64LE(u64(fh), abi.FlushIn.fh);
    a.writeBigUInt64LE(lockOwner, abi.FlushIn.lockOwner);
    this.request(abi.Opcode.FLUSH, nodeid, [a], abi.OUT_HEADER_SIZE);
  }

  private releaseCommon(op: number, nodeid: number, fh: number, releaseFlags: number): void {
    const a = Buffer.alloc(abi.RELEASE_IN_SIZE);
    a.writeBigUInt64LE(u64(fh), abi.ReleaseIn.fh);
    a.writeUInt32LE(releaseFlags, abi.ReleaseIn.releaseFlags);
    this.request(op, nodeid, [a], abi.OUT_HEADER_SIZE);
  }

  release(nodeid: number, fh: number, releaseFlags = 0): void {
    this.releaseCommon(abi.Opcode.RELEASE, nodeid, fh, releaseFlags);
  }

  releasedir(nodeid: number, fh: number): void {
    this.releaseCommon(abi.Opcode.RELEASEDIR, nodeid, fh, 0);
  }

  private fsyncCommon(op: number, nodeid: number, fh: number, datasync: boolean): void {
    const a = Buffer.alloc(abi.FSYNC_IN_SIZE);
    a.writeBigUInt64LE(u64(fh), abi.FsyncIn.fh);
    a.writeUInt32LE(datasync ? abi.FUSE_FSYNC_FDATASYNC : 0, abi.FsyncIn.fsyncFlags);
    this.request(op, nodeid, [a], abi.OUT_HEADER_SIZE);
  }

  fsync(nodeid: number, fh: number, datasync = false): void {
    this.fsyncCommon(abi.Opcode.FSYNC, nodeid, fh, datasync);
  }

  fsyncdir(nodeid: number, fh: number, datasync = false): void {
    this.fsyncCommon(abi.Opcode.FSYNCDIR, nodeid, fh, datasync);
  }

  fallocate(nodeid: number, fh: number, offset: number, length: number, mode = 0): void {
    const a = Buffer.alloc(abi.FALLOCATE_IN_SIZE);
    a.writeBigUInt64LE(u64(fh), abi.FallocateIn.fh);
    a.writeBigUInt64LE(u64(offset), abi.FallocateIn.offset);
    a.writeBigUInt64LE(u64(length), abi.FallocateIn.length);
    a.writeUInt32LE(mode, abi.FallocateIn.mode);
    this.request(abi.Opcode.FALLOCATE, nodeid, [a], abi.OUT_HEADER_SIZE);
  }

  lseek(nodeid: number, fh: number, offset: number, whence: number): number {
    const a = Buffer.alloc(abi.LSEEK_IN_SIZE);
    a.writeBigUInt64LE(u64(fh), abi.LseekIn.fh);
    a.writeBigUInt64LE(u64(offset), abi.LseekIn.offset);
    a.writeUInt32LE(whence, abi.LseekIn.whence);
    return Number(this.request(abi.Opcode.LSEEK, nodeid, [a], SMALL_REPLY).readBigUInt64LE(0));
  }

  copyFileRange(
    nodeidIn: number,
    fhIn: number,
    offIn: number,
    nodeidOut: number,
    fhOut: number,
    offOut: number,
    len: number,
  ): number {
    const a = Buffer.alloc(abi.COPY_FILE_RANGE_IN_SIZE);
    a.writeBigUInt64LE(u64(fhIn), abi.CopyFileRangeIn.fhIn);
    a.writeBigUInt64LE(u64(offIn), abi.CopyFileRangeIn.offIn);
    a.writeBigUInt64LE(u64(nodeidOut), abi.CopyFileRangeIn.nodeidOut);
    a.writeBigUInt64LE(u64(fhOut), abi.CopyFileRangeIn.fhOut);
    a.writeBigUInt64LE(u64(offOut), abi.CopyFileRangeIn.offOut);
    a.writeBigUInt64LE(u64(len), abi.CopyFileRangeIn.len);
    return this.request(abi.Opcode.COPY_FILE_RANGE, nodeidIn, [a], SMALL_REPLY).readUInt32LE(0);
  }

  syncfs(nodeid: number): void {
    this.request(abi.Opcode.SYNCFS, nodeid, [Buffer.alloc(abi.SYNCFS_IN_SIZE)], abi.OUT_HEADER_SIZE);
  }

  opendir(nodeid: number): OpenReply {
    const a = Buffer.alloc(abi.OPEN_IN_SIZE);
    return this.parseOpen(this.request(abi.Opcode.OPENDIR, nodeid, [a], SMALL_REPLY), 0);
  }

  readdir(nodeid: number, fh: number, offset: number | bigint = 0, size = 4096): FuseDirent[] {
    const d = this.request(
      abi.Opcode.READDIR,
      nodeid,
      [this.ioIn(abi.READ_IN_SIZE, fh, offset, size, 0)],
      abi.OUT_HEADER_SIZE + size,
    );
    const out: FuseDirent[] = [];
    for (let off = 0; off < d.length; ) {
      const { d: ent, size: n } = parseDirent(d, off);
      out.push(ent);
      off += n;
    }
    return out;
  }

  readdirplus(nodeid: number, fh: number, offset: number | bigint = 0, size = 4096): FuseDirentPlus[] {
    const d = this.request(
      abi.Opcode.READDIRPLUS,
      nodeid,
      [this.ioIn(abi.READ_IN_SIZE, fh, offset, size, 0)],
      abi.OUT_HEADER_SIZE + size,
    );
    const out: FuseDirentPlus[] = [];
    for (let off = 0; off < d.length; ) {
      const entry = parseEntry(d, off);
      const { d: ent, size: n } = parseDirent(d, off + abi.ENTRY_OUT_SIZE);
      out.push({ ...ent, entry });
      off += abi.ENTRY_OUT_SIZE + n;
    }
    return out;
  }

  /** Reads a whole directory with READDIR(PLUS), following the offsets. */
  readdirAll(nodeid: number, fh: number, plus = false, size = 4096): FuseDirent[] {
    const all: FuseDirent[] = [];
    let offset = 0n;
    for (;;) {
      const batch = plus ? this.readdirplus(nodeid, fh, offset, size) : this.readdir(nodeid, fh, offset, size);
      if (batch.length === 0) return all;
      all.push(...batch);
      offset = batch[batch.length - 1].off;
    }
  }

  /** In the 16-byte form, with `setxattrFlags`, once INIT agreed on FUSE_SETXATTR_EXT (as the kernel). */
  setxattr(nodeid: number, name: string, value: Uint8Array, flags = 0, setxattrFlags = 0): void {
    const a = Buffer.alloc(this.setxattrExt ? abi.SETXATTR_IN_SIZE : abi.SETXATTR_IN_COMPAT_SIZE);
    a.writeUInt32LE(value.length, abi.SetxattrIn.size);
    a.writeUInt32LE(flags, abi.SetxattrIn.flags);
    if (this.setxattrExt) a.writeUInt32LE(setxattrFlags, abi.SetxattrIn.setxattrFlags);
    this.request(abi.Opcode.SETXATTR, nodeid, [Buffer.concat([a, cstr(name), value])], abi.OUT_HEADER_SIZE);
  }

  /** The value, or with size 0 its length. */
  getxattr(nodeid: number, name: string, size: number): Buffer | number {
    const a = Buffer.alloc(abi.GETXATTR_IN_SIZE);
    a.writeUInt32LE(size, 0);
    const d = this.request(
      abi.Opcode.GETXATTR,
      nodeid,
      [Buffer.concat([a, cstr(name)])],
      abi.OUT_HEADER_SIZE + Math.max(size, 8),
    );
    return size === 0 ? d.readUInt32LE(0) : d;
  }

  /** The names, or with size 0 the length of the list. */
  listxattr(nodeid: number, size: number): string[] | number {
    const a = Buffer.alloc(abi.GETXATTR_IN_SIZE);
    a.writeUInt32LE(size, 0);
    const d = this.request(abi.Opcode.LISTXATTR, nodeid, [a], abi.OUT_HEADER_SIZE + Math.max(size, 8));
    return size === 0 ? d.readUInt32LE(0) : d.toString('latin1').split('\0').slice(0, -1);
  }

  removexattr(nodeid: number, name: string): void {
    this.request(abi.Opcode.REMOVEXATTR, nodeid, [cstr(name)], abi.OUT_HEADER_SIZE);
  }

  /** The lk_in argument block. */
  lkIn(fh: number, owner: bigint, lock: FileLock, flock = false): Buffer {
    const a = Buffer.alloc(abi.LK_IN_SIZE);
    a.writeBigUInt64LE(u64(fh), abi.LkIn.fh);
    a.writeBigUInt64LE(owner, abi.LkIn.owner);
    a.writeBigUInt64LE(lock.start, abi.LkIn.lk + abi.FileLock.start);
    a.writeBigUInt64LE(lock.end, abi.LkIn.lk + abi.FileLock.end);
    a.writeUInt32LE(lock.type, abi.LkIn.lk + abi.FileLock.type);
    a.writeUInt32LE(lock.pid, abi.LkIn.lk + abi.FileLock.pid);
    a.writeUInt32LE(flock ? abi.FUSE_LK_FLOCK : 0, abi.LkIn.lkFlags);
    return a;
  }

  getlk(nodeid: number, fh: number, owner: bigint, lock: FileLock): FileLock {
    const d = this.request(abi.Opcode.GETLK, nodeid, [this.lkIn(fh, owner, lock)], SMALL_REPLY);
    return {
      start: d.readBigUInt64LE(abi.FileLock.start),
      end: d.readBigUInt64LE(abi.FileLock.end),
      type: d.readUInt32LE(abi.FileLock.type),
      pid: d.readUInt32LE(abi.FileLock.pid),
    };
  }

  /** SETLK, or SETLKW with `sleep` (the call then waits for the grant). */
  setlk(nodeid: number, fh: number, owner: bigint, lock: FileLock, sleep = false, flock = false): void {
    const op = sleep ? abi.Opcode.SETLKW : abi.Opcode.SETLK;
    this.request(op, nodeid, [this.lkIn(fh, owner, lock, flock)], abi.OUT_HEADER_SIZE);
  }

  /** SETUPMAPPING; without `fh` it sends -1, as the kernel does (it maps by inode). */
  setupmapping(nodeid: number, m: { fh?: number; foffset: number; len: number; flags: number; moffset: number }): void {
    const a = Buffer.alloc(abi.SETUPMAPPING_IN_SIZE);
    a.writeBigUInt64LE(m.fh === undefined ? 0xffff_ffff_ffff_ffffn : u64(m.fh), abi.SetupmappingIn.fh);
    a.writeBigUInt64LE(u64(m.foffset), abi.SetupmappingIn.foffset);
    a.writeBigUInt64LE(u64(m.len), abi.SetupmappingIn.len);
    a.writeBigUInt64LE(u64(m.flags), abi.SetupmappingIn.flags);
    a.writeBigUInt64LE(u64(m.moffset), abi.SetupmappingIn.moffset);
    this.request(abi.Opcode.SETUPMAPPING, nodeid, [a], abi.OUT_HEADER_SIZE);
  }

  /** REMOVEMAPPING of `ranges`; `count` may differ from their number, to test a lying guest. */
  removemapping(nodeid: number, ranges: readonly { moffset: number; len: number }[], count = ranges.length): void {
    const a = Buffer.alloc(abi.REMOVEMAPPING_IN_SIZE + ranges.length * abi.REMOVEMAPPING_ONE_SIZE);
    a.writeUInt32LE(count, 0);
    ranges.forEach((r, i) => {
      const at = abi.REMOVEMAPPING_IN_SIZE + i * abi.REMOVEMAPPING_ONE_SIZE;
      a.writeBigUInt64LE(u64(r.moffset), at + abi.RemovemappingOne.moffset);
      a.writeBigUInt64LE(u64(r.len), at + abi.RemovemappingOne.len);
    });
    this.request(abi.Opcode.REMOVEMAPPING, nodeid, [a], abi.OUT_HEADER_SIZE);
  }

  /** The unique the next request will carry. */
  peekUnique(): bigint {
    return this.nextUnique;
  }

  interrupt(unique: bigint): void {
    const a = Buffer.alloc(abi.INTERRUPT_IN_SIZE);
    a.writeBigUInt64LE(unique);
    this.send([this.header(abi.Opcode.INTERRUPT, 0, a.length), a], 0, HIPRIO_QUEUE);
  }
}

/** OFFSET_MAX: a lock to the end of the file. */
export const LOCK_TO_EOF = 0x7fff_ffff_ffff_ffffn;
