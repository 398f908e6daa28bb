// ttrpc or gRPC towards containerd, and the answer `start` prints. containerd 1.6 reads the answer
// as a ttrpc address; 1.7 also accepts JSON `{"version":2,"address":…,"protocol":"grpc"}` and then
// dials the address as a plain unix socket path (net.DialTimeout("unix", …)), so the gRPC answer
// carries the bare path. 1.7 and 2.x both set MAX_SHIM_VERSION and GRPC_ADDRESS, but 2.x's gRPC
// shim client drops the connection at once (ARCHITECTURE.md, 'containerd and the shim'), so "auto"
// asks the containerd binary for its version, once per binary (the answer is kept in the run dir),
// and a gRPC forced on 2.x is refused with that reason.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runDir } from '@vfs/contracts';
import { Code, ShimError } from './shim_error';

export type ShimProtocol = 'ttrpc' | 'grpc';

const run = promisify(execFile);
const VERSION_TIMEOUT_MS = 2000;

/** "containerd github.com/containerd/containerd 1.7.24~ds1 …" → [1, 7]. */
export function parseContainerdVersion(output: string): [number, number] | undefined {
  const match = /\sv?(\d+)\.(\d+)\.\d+/.exec(output);
  return match === null ? undefined : [Number(match[1]), Number(match[2])];
}

/**
 * Where one containerd binary's `--version` is kept: named for its path and what stat says of it,
 * so an upgraded binary is asked again. Asking costs a Go program's start (≈ 25 ms here) on the
 * path of every sandbox's start.
 */
function versionFile(env: NodeJS.ProcessEnv, binary: string): string {
  const path = realpathSync(binary);
  const s = statSync(path);
  const key = createHash('sha256').update(`${path}\0${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`).digest('hex');
  return join(runDir(env), 'containerd-version', key.slice(0, 32));
}

async function containerdVersion(binary: string, env: NodeJS.ProcessEnv): Promise<[number, number] | undefined> {
  if (binary === '') return undefined;
  const file = versionFile(env, binary);
  try {
    return parseContainerdVersion(readFileSync(file, 'utf8'));
  } catch {
    // not asked yet
  }
  const { stdout } = await run(binary, ['--version'], { timeout: VERSION_TIMEOUT_MS });
  const version = parseContainerdVersion(stdout);
  if (version !== undefined) {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.${process.pid}`, stdout);
    renameSync(`${file}.${process.pid}`, file);
  }
  return version;
}

export async function chooseProtocol(
  setting: boolean | 'auto',
  env: NodeJS.ProcessEnv,
  publishBinary: string,
): Promise<ShimProtocol> {
  if (setting === false) return 'ttrpc';
  if (setting === true) {
    // Asked only to refuse 2.x: a binary that will not say is given the gRPC it was told to use.
    const version = await containerdVersion(publishBinary, env).catch(() => undefined);
    if (version !== undefined && version[0] >= 2) throw grpcRefused(version);
    return 'grpc';
  }
  if (env.MAX_SHIM_VERSION === undefined || env.GRPC_ADDRESS === undefined) return 'ttrpc';
  // A binary that will not say gets ttrpc, which every containerd speaks.
  const version = await containerdVersion(publishBinary, env).catch(() => undefined);
  return version !== undefined && version[0] === 1 && version[1] === 7 ? 'grpc' : 'ttrpc';
}

/**
 * containerd 2.x takes gRPC only with bootstrap version 3, and then makes its client with
 * grpc.NewClient, which starts Idle, while the watcher it starts beside it counts Idle as the
 * shim gone: it cleans the sandbox up at its first call (2.1.9, and its main branch in 2026-12).
 */
function grpcRefused([major, minor]: [number, number]): ShimError {
  return new ShimError(
    Code.FailedPrecondition,
    `[runtime] grpc = true: containerd ${major}.${minor}'s gRPC shim client counts a new connection as closed ` +
      'and tears the sandbox down; use grpc = "auto" or false (ttrpc)',
  );
}

export function bootstrapAnswer(protocol: ShimProtocol, socketPath: string): string {
  if (protocol === 'ttrpc') return `unix://${socketPath}`;
  return JSON.stringify({ version: 2, address: socketPath, protocol: 'grpc' });
}
