// The warm pool's protocol (vfs-runtime pool serve ↔ the shim, and ↔ vfs-runtime pool status):
// JSON lines over <run>/pool.sock, root only. `take` hands one booted VM to a shim, which adopts
// its processes and files; the pool forgets it at once, so no VM is handed out twice. `status`
// lists the pool. Both sides validate with the parsers here.

import { errorMessage } from '../errors';
import type { ProcessIdentity } from '../process_identity';
import { join } from 'node:path';

/** The pool service's socket under the run dir (run_dir.ts). */
export function poolSocket(runDir: string): string {
  return join(runDir, 'pool.sock');
}

/** Where a VM keeps its files and sockets (the shim's SandboxLayout). */
export interface VmPaths {
  readonly stateDir: string;
  /** The daemon's --shared-dir: every share is a subdirectory (a bind mount) of it. */
  readonly sharesDir: string;
  /** A private mount point where binds get their flags before they move into sharesDir. */
  readonly stagingDir: string;
  readonly socketDir: string;
  readonly agentSocket: string;
  readonly qmpSocket: string;
  readonly controlSocket: string;
  readonly consoleLog: string;
  readonly qemuStderr: string;
  readonly daemonStderr: string;
}

/**
 * The pool's open connection to the VM's agent, held for the adopter: a copy of the socket at
 * `fd` in the pool's process `pid` (pidfd_getfd), the socket whose inode is `inode`. Taking it
 * instead of connecting anew, the guest never sees its host leave: an agent that does closes and
 * reopens its port, and the guest kernel drops what a host sends meanwhile.
 */
export interface AgentConnectionRef {
  readonly pid: number;
  readonly fd: number;
  readonly inode: number;
}

/** One booted, unused VM as the pool hands it over: everything the adopting shim takes charge of. */
export interface PooledVm {
  readonly id: string;
  /** Of the configuration it was booted with: a shim with another one boots its own VM. */
  readonly fingerprint: string;
  readonly qemu: ProcessIdentity;
  readonly daemon: ProcessIdentity;
  readonly paths: VmPaths;
  /** Host mounts the pool made for it, in the order made: the adopter unmounts them at the end. */
  readonly mounts: readonly string[];
  /** Milliseconds from the start of its boot until its agent answered. */
  readonly bootMs: number;
  /** Absent when the pool could not hold it: the adopter then connects to `paths.agentSocket`. */
  readonly agentConnection?: AgentConnectionRef;
}

export type PooledVmState = 'booting' | 'ready';

export interface PoolEntry {
  readonly id: string;
  readonly state: PooledVmState;
  /** Since its boot began. */
  readonly ageMs: number;
  readonly qemuPid: number | null;
}

export interface PoolStatus {
  /** [pool] size: how many ready VMs the service keeps. */
  readonly size: number;
  readonly fingerprint: string;
  readonly vms: readonly PoolEntry[];
  /** VMs handed to shims since the service started. */
  readonly handedOut: number;
  readonly bootFailures: number;
  /** The last boot failure, or "". */
  readonly lastError: string;
  /** Spare shims started and not yet claimed (spare_shim.ts). */
  readonly spareShims: number;
}

export interface PoolTake {
  readonly id: number;
  readonly op: 'take';
  readonly fingerprint: string;
  /** Who takes it, for the pool's log: the sandbox id. */
  readonly sandboxId: string;
}

export interface PoolStatusRequest {
  readonly id: number;
  readonly op: 'status';
}

export type PoolRequest = PoolTake | PoolStatusRequest;

/** `vm` is absent when the pool has none for this fingerprint; `reason` says why. */
export type PoolTakeAnswer = {
  readonly id: number;
  readonly ok: true;
  readonly vm?: PooledVm;
  readonly reason?: string;
};
export type PoolStatusAnswer = { readonly id: number; readonly ok: true; readonly status: PoolStatus };

export class PoolProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolProtocolError';
  }
}

type Json = Record<string, unknown>;

function object(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new PoolProtocolError(`${what} must be a JSON object`);
  return value as Json;
}

function text(obj: Json, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new PoolProtocolError(`field '${key}': expected string, got ${JSON.stringify(v)}`);
  return v;
}

function absolute(obj: Json, key: string): string {
  const path = text(obj, key);
  if (!path.startsWith('/') || path.includes('\0'))
    throw new PoolProtocolError(`field '${key}': "${path}" is not an absolute path`);
  return path;
}

function count(obj: Json, key: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new PoolProtocolError(`field '${key}': expected a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

function pooledProcess(obj: Json, key: string): ProcessIdentity {
  const proc = object(obj[key], `field '${key}'`);
  const pid = count(proc, 'pid');
  if (pid < 2) throw new PoolProtocolError(`field '${key}.pid': ${pid} is not a process to adopt`);
  return { pid, startTime: text(proc, 'startTime') };
}

function agentConnectionRef(value: unknown): AgentConnectionRef | undefined {
  if (value === undefined) return undefined;
  const obj = object(value, "field 'agentConnection'");
  const ref = { pid: count(obj, 'pid'), fd: count(obj, 'fd'), inode: count(obj, 'inode') };
  if (ref.pid < 2) throw new PoolProtocolError(`field 'agentConnection.pid': ${ref.pid} is not a pool process`);
  return ref;
}

/** Parses one request line; throws PoolProtocolError naming what is wrong. */
export function parsePoolRequest(line: string): PoolRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new PoolProtocolError(`not JSON: ${errorMessage(err)}`);
  }
  const obj = object(value, 'request');
  const id = count(obj, 'id');
  const op = text(obj, 'op');
  switch (op) {
    case 'take':
      return { id, op, fingerprint: text(obj, 'fingerprint'), sandboxId: text(obj, 'sandboxId') };
    case 'status':
      return { id, op };
    default:
      throw new PoolProtocolError(`unknown op '${op}'`);
  }
}

function vmPaths(value: unknown): VmPaths {
  const obj = object(value, "field 'paths'");
  return {
    stateDir: absolute(obj, 'stateDir'),
    sharesDir: absolute(obj, 'sharesDir'),
    stagingDir: absolute(obj, 'stagingDir'),
    socketDir: absolute(obj, 'socketDir'),
    agentSocket: absolute(obj, 'agentSocket'),
    qmpSocket: absolute(obj, 'qmpSocket'),
    controlSocket: absolute(obj, 'controlSocket'),
    consoleLog: absolute(obj, 'consoleLog'),
    qemuStderr: absolute(obj, 'qemuStderr'),
    daemonStderr: absolute(obj, 'daemonStderr'),
  };
}

/** Checks a handed-over VM before a shim acts on its paths and pids. */
export function parsePooledVm(value: unknown): PooledVm {
  const obj = object(value, 'pooled VM');
  const mounts = obj.mounts;
  if (!Array.isArray(mounts) || !mounts.every((m): m is string => typeof m === 'string' && m.startsWith('/')))
    throw new PoolProtocolError("field 'mounts': expected an array of absolute paths");
  return {
    id: text(obj, 'id'),
    fingerprint: text(obj, 'fingerprint'),
    qemu: pooledProcess(obj, 'qemu'),
    daemon: pooledProcess(obj, 'daemon'),
    paths: vmPaths(obj.paths),
    mounts,
    bootMs: count(obj, 'bootMs'),
    agentConnection: agentConnectionRef(obj.agentConnection),
  };
}
