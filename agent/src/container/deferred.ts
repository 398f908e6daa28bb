/** A promise settled from outside, for launcher events that arrive on a line stream. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
  resolve(value: T): void;
  reject(error: Error): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Several of these (ready, started, exited) fail together when a launch fails and the caller
  // awaits only the one it is at; the others must not count as unhandled rejections. Whoever
  // awaits one still receives its error.
  promise.catch(() => undefined);
  const d = {
    promise,
    settled: false,
    resolve(value: T): void {
      if (d.settled) return;
      d.settled = true;
      resolve(value);
    },
    reject(error: Error): void {
      if (d.settled) return;
      d.settled = true;
      reject(error);
    },
  };
  return d;
}
