// Another program on the host taking POSIX record locks (fcntl F_SETLK/F_SETLKW, whole file,
// write): a Node child calling fcntl(2) through koffi, so the lock tests need nothing beyond
// node_modules.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { F_WRLCK, FLOCK, FLOCK_SIZE } from '../src/sys/locks';

const F_SETLK = 6;
const F_SETLKW = 7;
/** The locker's exit status when the lock is taken elsewhere (any failure of its own exits 1). */
const LOCKED_ELSEWHERE = 3;

// argv: koffi, path, fcntl command, then for a holder the marker file and how long to hold (ms).
const LOCKER = `
const [koffiPath, path, cmd, marker, holdMs] = process.argv.slice(1);
const fcntl = require(koffiPath).load('libc.so.6').func('int fcntl(int fd, int cmd, void *lock)');
const fs = require('node:fs');
const lock = Buffer.alloc(${FLOCK_SIZE});
lock.writeInt16LE(${F_WRLCK}, ${FLOCK.type});
if (fcntl(fs.openSync(path, 'r+'), Number(cmd), lock) !== 0) process.exit(${LOCKED_ELSEWHERE});
if (marker !== undefined) {
  fs.writeFileSync(marker, '');
  setTimeout(() => undefined, Number(holdMs));
}`;

function locker(path: string, cmd: number, ...rest: string[]): [string, string[]] {
  return [process.execPath, ['-e', LOCKER, require.resolve('koffi'), path, String(cmd), ...rest]];
}

/** A host process that waits for a write lock on all of `path`, creates `marker`, and holds the lock for `holdMs`. */
export function spawnHostLockHolder(path: string, marker: string, holdMs: number): ChildProcess {
  const [command, args] = locker(path, F_SETLKW, marker, String(holdMs));
  return spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Whether a host process could take a write lock on all of `path` right now. */
export function hostCanLock(path: string): boolean {
  const [command, args] = locker(path, F_SETLK);
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== LOCKED_ELSEWHERE) throw new Error(`host locker failed (${r.status}): ${r.stderr}`);
  return r.status === 0;
}
