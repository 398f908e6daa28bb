/**
 * Log files of the VM's processes (QEMU writes the guest console to one, see qemu_command.ts):
 * their text and last lines for error messages, and waiting for a console line. Polling keeps
 * the wait independent of inotify and of who wrote the file; 20 ms is far below a boot.
 */
import { readFileSync } from 'node:fs';
import { errorMessage } from '@vfs/contracts';
import { describeExit, type QemuExit } from './qemu_exit';

export interface ConsoleWait {
  readonly timeoutMs: number;
  /** Stop waiting, with an error that says how QEMU ended, when this settles first (RunningQemu.exited). */
  readonly abortOn?: Promise<QemuExit>;
  readonly pollMs?: number;
}

/**
 * The file's text. A missing file is empty: its writer may have failed, or not got far enough,
 * to create it. Other errors (EACCES, EISDIR, EIO) are faults of their own and are thrown.
 */
export function readConsole(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** The last `lines` lines of a log file ('' when it does not exist), for error messages. */
export function fileTail(path: string, lines: number): string {
  return readConsole(path).trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * fileTail for a message that must be made anyway, such as a process's exit, which is reported
 * whether or not its log can be read: a read error becomes the text.
 */
export function fileTailOrError(path: string, lines: number): string {
  try {
    return fileTail(path, lines);
  } catch (err) {
    return `(cannot read ${path}: ${errorMessage(err)})`;
  }
}

/** Resolves with the first match of `pattern` in the log. */
export function waitForConsole(path: string, pattern: RegExp, wait: ConsoleWait): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (action: () => void): void => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(deadline);
      action();
    };
    const check = (): boolean => {
      const match = pattern.exec(readConsole(path));
      if (match) finish(() => resolve(match));
      return match !== null;
    };
    const fail = (why: string): void =>
      finish(() =>
        reject(
          new Error(`console ${path}: ${why} before ${pattern}; console tail:\n${readConsole(path).slice(-2000)}`),
        ),
      );
    const poll = setInterval(check, wait.pollMs ?? 20);
    const deadline = setTimeout(() => check() || fail(`no match within ${wait.timeoutMs} ms`), wait.timeoutMs);
    wait.abortOn?.then(
      (exit) => check() || fail(`the VM exited: ${describeExit(exit)}`),
      () => check() || fail('the VM failed'),
    );
    check();
  });
}
