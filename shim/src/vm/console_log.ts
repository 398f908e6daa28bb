/**
 * Waits for a line on a guest console log that QEMU writes to a file (see qemu_command.ts).
 * Polling keeps it independent of inotify and of who wrote the file; 20 ms is far below a boot.
 */
import { readFileSync } from 'node:fs';

export interface ConsoleWait {
  readonly timeoutMs: number;
  /** Stop waiting, with an error, when this settles first (typically RunningQemu.exited). */
  readonly abortOn?: Promise<unknown>;
  readonly pollMs?: number;
}

export function readConsole(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
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
      finish(() => reject(new Error(`console ${path}: ${why} before ${pattern}; console tail:\n${readConsole(path).slice(-2000)}`)));
    const poll = setInterval(check, wait.pollMs ?? 20);
    const deadline = setTimeout(() => check() || fail(`no match within ${wait.timeoutMs} ms`), wait.timeoutMs);
    wait.abortOn?.then(
      () => check() || fail('the VM exited'),
      () => check() || fail('the VM failed'),
    );
    check();
  });
}
