// The one place libc is loaded. Every binding module under sys/ declares its functions on `libc`
// and reports failures as SysError, so errors read like `openat(3, "foo"): ENOENT`.
import koffi from 'koffi';
import { constants } from 'node:os';

export const libc = koffi.load('libc.so.6');

const errnoNames: string[] = [];
for (const [name, value] of Object.entries(constants.errno)) {
  if (errnoNames[value] === undefined) errnoNames[value] = name;
}

export function errnoName(errno: number): string {
  return errnoNames[errno] ?? `errno ${errno}`;
}

/** A failed system call: `call` names the call and its salient arguments. */
export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${errnoName(errno)}`);
    this.name = 'SysError';
  }
}

/** errno of the last koffi call on this thread; read it immediately after the call. */
export function lastErrno(): number {
  return koffi.errno();
}

/** Returns `ret`, or throws SysError with errno when `ret` is negative. */
export function check(ret: number, call: string): number {
  if (ret < 0) throw new SysError(call, koffi.errno());
  return ret;
}

/** Writes a native pointer (a Number below 2^53) into a little-endian 64-bit slot. */
export function writePtr(buf: Buffer, offset: number, addr: number): void {
  buf.writeUInt32LE(addr % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(addr / 0x1_0000_0000), offset + 4);
}

/** Reads a little-endian 64-bit value that fits a Number (addresses, lengths, offsets). */
export function readU64(buf: Uint8Array, offset: number, view?: DataView): number {
  const dv = view ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return dv.getUint32(offset, true) + dv.getUint32(offset + 4, true) * 0x1_0000_0000;
}
