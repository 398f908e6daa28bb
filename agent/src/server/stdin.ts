/** WriteStdin: resolves with the bytes the process's stdin took, once they are in its pipe. */
import type { ContainerProcess } from '../container/container_process';

export function writeStdin(proc: ContainerProcess, data: Buffer): Promise<number> {
  const stdin = proc.io.stdin;
  if (data.length === 0 || stdin.destroyed || stdin.writableEnded) return Promise.resolve(0);
  // An error here is EPIPE, or a closed terminal: nothing reads the process's stdin any more,
  // which the count of 0 tells the shim.
  return new Promise((resolve) => stdin.write(data, (err) => resolve(err ? 0 : data.length)));
}
