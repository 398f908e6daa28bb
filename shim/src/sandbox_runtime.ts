// The contract between the shim's frame (Task API, events, stdio, bootstrap) and what actually
// runs containers. One SandboxRuntime serves one sandbox (a pod or a lone container) = one VM: the
// VM-backed implementation spawns vfs-virtiofsd and QEMU and drives the guest agent
// (proto/gen/agent) over ttrpc. The frame owns everything containerd sees (ids, states, exit
// statuses and times, events, FIFOs); the runtime owns processes and their streams.
//
// Rules every implementation follows:
// - Calls for one process arrive in lifecycle order (create → start → … → remove); the frame has
//   already checked states, so a runtime validates only what only it can know.
// - Errors: throw SandboxError (sandbox_error.ts) with the kind that fits (not-found,
//   wrong-state, …); the frame maps kinds to the codes containerd understands. The agent's own
//   answers (TtrpcError) keep their code; anything else reaches containerd as Unknown with the
//   message. The frame prefixes the call's context to create, start, exec, kill and delete errors.
// - `exited` of a RuntimeProcess resolves exactly once, after the process is gone AND its output
//   has been written to `io.stdout`/`io.stderr` and those streams ended (so `ctr` sees all of it
//   before the exit). It never rejects: a lost process (VM died) resolves with status 255.

import type { Readable, Writable } from 'node:stream';
import type { Metrics } from '@vfs/proto/gen/cgroups/v2/metrics';
import type { ExitReason } from '@vfs/proto/gen/containerd/types/task/task';
import type { LoadedConfig } from '@vfs/runtime-config';
import type { ShimLogger } from './logger';
import type { MountSpec } from './host_mounts';
import type { ShimProcess, ShimSpec } from './oci_spec';
import type { SandboxState } from './sandbox_state';

/**
 * A process's stdio as the frame opened it from containerd's URIs (FIFOs, `binary://` loggers,
 * `file://`). The runtime writes the process's output to `stdout`/`stderr` and ends them at EOF,
 * and copies `stdin` to the process until it ends: the frame ends it when containerd's writer
 * closes its FIFO or calls CloseIO. Absent streams mean /dev/null.
 */
export interface ProcessIo {
  /** With a terminal, stdout carries both streams and `stderr` is undefined. */
  readonly terminal: boolean;
  readonly stdin: Readable | undefined;
  readonly stdout: Writable | undefined;
  readonly stderr: Writable | undefined;
}

export interface ProcessExit {
  /** The exit code, or 128 + the signal number for a process killed by a signal. */
  readonly exitStatus: number;
  readonly exitedAt: Date;
  readonly reason: ExitReason;
}

export interface RuntimeProcess {
  /** The pid containerd reports (in the guest for the VM runtime). */
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
}

export interface ContainerRequest {
  readonly containerId: string;
  /** Host path of the OCI bundle: config.json, rootfs/ (empty: the mounts below are the rootfs). */
  readonly bundle: string;
  /** config.json, validated; the object is the whole document, for the agent. */
  readonly spec: ShimSpec;
  /** CreateTaskRequest.rootfs: the snapshotter's mounts (overlay with lowerdir/upperdir, or a bind). */
  readonly rootfs: readonly MountSpec[];
  readonly io: ProcessIo;
}

export interface ExecRequest {
  readonly containerId: string;
  readonly execId: string;
  readonly process: ShimProcess;
  /** The exec's Process as containerd sent it (JSON), for the agent. */
  readonly processJson: string;
  readonly io: ProcessIo;
}

/** Names a process: the container's init when execId is empty. */
export interface ProcessRef {
  readonly containerId: string;
  readonly execId: string;
}

export interface ProcessListing {
  readonly pid: number;
  /** Set for processes started by exec. */
  readonly execId: string;
}

export interface SandboxRuntime {
  /**
   * Creates the container and its init process without running the user program (OCI "created").
   * The first call brings the sandbox up (daemon, VM, agent); a bad spec or rootfs fails here,
   * leaving nothing behind.
   */
  createContainer(request: ContainerRequest): Promise<RuntimeProcess>;
  /** Runs the init's user program. */
  startContainer(containerId: string): Promise<void>;
  /** Prepares an exec; it runs at startExec. */
  prepareExec(request: ExecRequest): Promise<void>;
  startExec(ref: ProcessRef): Promise<RuntimeProcess>;
  /** `all`: every process of the container (Kill with all=true, e.g. on pod teardown). */
  signal(ref: ProcessRef, signal: number, all: boolean): Promise<void>;
  resizePty(ref: ProcessRef, size: { readonly width: number; readonly height: number }): Promise<void>;
  pause(containerId: string): Promise<void>;
  resume(containerId: string): Promise<void>;
  /** `resourcesJson`: an OCI LinuxResources document. */
  update(containerId: string, resourcesJson: string): Promise<void>;
  stats(containerId: string): Promise<Metrics>;
  processes(containerId: string): Promise<readonly ProcessListing[]>;
  /** Forgets a stopped exec. */
  removeExec(ref: ProcessRef): Promise<void>;
  /** Kills what is left of the container and releases its rootfs and mounts. */
  removeContainer(containerId: string): Promise<void>;
  /** Stops the sandbox (VM, daemon) after its last container is removed; idempotent. */
  shutdown(): Promise<void>;
}

/** What the frame gives a runtime when the sandbox's first container is created. */
export interface SandboxRuntimeContext {
  readonly sandboxId: string;
  readonly namespace: string;
  readonly config: LoadedConfig;
  /** Record helper pids and host mounts here, so `delete` can clean up after a crashed shim. */
  readonly state: SandboxState;
  /** The root logger (the sandbox is bound): bind the container with containerLogger. */
  readonly log: ShimLogger;
  /** Report an OOM kill in a container; the frame publishes /tasks/oom. */
  readonly onOom: (containerId: string) => void;
}

export type SandboxRuntimeFactory = (context: SandboxRuntimeContext) => Promise<SandboxRuntime>;
