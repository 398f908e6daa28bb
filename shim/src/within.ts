// A bound on how long the shim waits for a peer that answers at once unless it is stuck (QEMU's
// main loop, the warm pool): the caller gets an error naming the wait instead of hanging.

/** Settles as `promise` does, or rejects with `why` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
