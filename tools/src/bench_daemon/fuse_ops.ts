// The FUSE requests of the benchmark, encoded into a RequestSlot the way the Linux virtio-fs
// driver sends them (argument structs as in linux/fuse.h, data in pages).
import { Opcode } from '@vfs/daemon/fuse';
import { PAGE, type RequestSlot } from './request_slot';

const O_RDONLY = 0;
const O_LARGEFILE = 0o100000;
const O_DIRECTORY = 0o200000;
const ENTRY_OUT = 128;
const ATTR_OUT = 104;
const OPEN_OUT = 16;
const WRITE_OUT = 8;
/** READDIRPLUS asks for one page, as the kernel's fuse_readdir does. */
export const READDIR_SIZE = PAGE;
export const OPEN_READ = O_RDONLY | O_LARGEFILE;
export const OPEN_DIR = O_RDONLY | O_DIRECTORY | O_LARGEFILE;
/** Reply offsets the workloads read. */
export const Reply = { entryNodeid: 0, openFh: 0, createFh: ENTRY_OUT } as const;

export function lookup(s: RequestSlot, unique: number, parent: number, name: Uint8Array): void {
  s.begin(Opcode.LOOKUP, parent, unique);
  s.bytes(name);
  s.finish(0, ENTRY_OUT, 0);
}

export function getattr(s: RequestSlot, unique: number, nodeid: number): void {
  s.begin(Opcode.GETATTR, nodeid, unique);
  s.u32(0); // getattr_flags
  s.u32(0);
  s.u64(0); // fh
  s.finish(0, ATTR_OUT, 0);
}

export function open(
  s: RequestSlot,
  unique: number,
  nodeid: number,
  flags: number,
  opcode: number = Opcode.OPEN,
): void {
  s.begin(opcode, nodeid, unique);
  s.u32(flags);
  s.u32(0); // open_flags
  s.finish(0, OPEN_OUT, 0);
}

export function create(
  s: RequestSlot,
  unique: number,
  parent: number,
  name: Uint8Array,
  flags: number,
  mode: number,
): void {
  s.begin(Opcode.CREATE, parent, unique);
  s.u32(flags);
  s.u32(mode);
  s.u32(0o022); // umask
  s.u32(0); // open_flags
  s.bytes(name);
  s.finish(0, ENTRY_OUT + OPEN_OUT, 0);
}

/** fuse_read_in / fuse_write_in: the same 40 bytes. */
function io(s: RequestSlot, fh: number, offset: number, size: number): void {
  s.u64(fh);
  s.u64(offset);
  s.u32(size);
  s.u32(0); // read_flags / write_flags
  s.u64(0); // lock_owner
  s.u32(0); // flags
  s.u32(0);
}

export function read(s: RequestSlot, unique: number, nodeid: number, fh: number, offset: number, size: number): void {
  s.begin(Opcode.READ, nodeid, unique);
  io(s, fh, offset, size);
  s.finish(0, 0, size);
}

export function write(s: RequestSlot, unique: number, nodeid: number, fh: number, offset: number, size: number): void {
  s.begin(Opcode.WRITE, nodeid, unique);
  io(s, fh, offset, size);
  s.finish(size, WRITE_OUT, 0);
}

export function readdirplus(s: RequestSlot, unique: number, nodeid: number, fh: number, offset: number): void {
  s.begin(Opcode.READDIRPLUS, nodeid, unique);
  io(s, fh, offset, READDIR_SIZE);
  s.finish(0, 0, READDIR_SIZE);
}

export function release(
  s: RequestSlot,
  unique: number,
  nodeid: number,
  fh: number,
  opcode: number = Opcode.RELEASE,
): void {
  s.begin(opcode, nodeid, unique);
  s.u64(fh);
  s.u32(0); // flags
  s.u32(0); // release_flags
  s.u64(0); // lock_owner
  s.finish(0, 0, 0);
}

export function unlink(s: RequestSlot, unique: number, parent: number, name: Uint8Array): void {
  s.begin(Opcode.UNLINK, parent, unique);
  s.bytes(name);
  s.finish(0, 0, 0);
}
