// An OCI bundle as containerd hands one to a shim's `start`: config.json, and the `log` FIFO the
// shim writes its log to, held open for reading as containerd holds it (a shim that opens it
// otherwise finds no reader, or no FIFO).

import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandboxPaths } from '@vfs/contracts';
import { SandboxState } from '@vfs/shim';

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

export interface ShimStartOptions {
  /** The shim's run dir (VFS_RUN_DIR). */
  readonly runDir: string;
  /** Where containerd's sockets would be: the start names them in its flags and environment. */
  readonly socketDir: string;
  readonly bundle: string;
  /** Runs first, in the same process (a shell's `exec`, taskset), with the program as its last argument. */
  readonly wrapper?: readonly string[];
}

/** containerd's `start` of sandbox `id` (namespace "ns") by `program` in `bundle`: its stdout, the address. */
export function shimStart(program: string, id: string, options: ShimStartOptions): string {
  const wrapper = options.wrapper ?? [];
  const flags = ['-namespace', 'ns', '-address', join(options.socketDir, 'containerd.sock'), '-id', id];
  return execFileSync(
    wrapper[0] ?? program,
    [...wrapper.slice(1), ...(wrapper.length > 0 ? [program] : []), ...flags, '-bundle', options.bundle, 'start'],
    {
      cwd: options.bundle,
      env: {
        ...process.env,
        VFS_RUN_DIR: options.runDir,
        TTRPC_ADDRESS: join(options.socketDir, 'containerd.sock.ttrpc'),
      },
      input: '',
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
}

/** The pid of the shim serving sandbox `id` (namespace "ns"), as it recorded it in its state dir. */
export function servingShimPid(runDir: string, id: string): number {
  const record = new SandboxState(sandboxPaths(runDir, 'ns', id).stateDir).pid('shim');
  if (record === undefined) throw new Error(`sandbox ${id} recorded no shim`);
  return record.pid;
}
