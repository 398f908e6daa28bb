// libc through koffi, for the few system calls Node has no binding for (pidfds, mounts), and errno
// names for their messages. Loaded on first use: koffi's native module costs ≈ 14 ms to load,
// which a shim start pays only when it makes one of those calls.
import { constants } from 'node:os';
import type { LibraryHandle } from 'koffi';

export interface Libc {
  readonly lib: LibraryHandle;
  /** A call's result, or -errno when it failed (negative); read right after the call. */
  orErrno(result: number): number;
}

let loaded: Libc | undefined;

export function libc(): Libc {
  if (loaded === undefined) {
    const koffi = require('koffi') as typeof import('koffi');
    loaded = { lib: koffi.load('libc.so.6'), orErrno: (r) => (r < 0 ? -koffi.errno() : r) };
  }
  return loaded;
}

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) if (!errnoNames.has(value)) errnoNames.set(value, name);

/** `ESRCH` for 3, and so on. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}
