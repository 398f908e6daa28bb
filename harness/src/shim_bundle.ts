// An OCI bundle as containerd hands one to a shim's `start`: config.json, and the `log` FIFO the
// shim writes its log to, held open for reading as containerd holds it (a shim that opens it
// otherwise finds no reader, or no FIFO).

import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ShimBundle {
  readonly dir: string;
  /** Closes containerd's end of the log FIFO. */
  close(): void;
}

/** Makes `dir` a bundle running `true`; `annotations` as CRI sets them (a pod's sandbox id, say). */
export function shimBundle(dir: string, annotations: Record<string, string> = {}): ShimBundle {
  mkdirSync(dir, { recursive: true });
  const spec = { ociVersion: '1.0.2', process: { args: ['true'], cwd: '/' }, root: { path: 'rootfs' }, annotations };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  execFileSync('mkfifo', [join(dir, 'log')]);
  const reader = openSync(join(dir, 'log'), constants.O_RDWR);
  return { dir, close: () => closeSync(reader) };
}
