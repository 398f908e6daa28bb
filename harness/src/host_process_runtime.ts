// TEST DOUBLE — not a runtime vfs ships. A SandboxRuntime that runs each container's processes
// on the host (chroot into the container's rootfs, no VM, no namespaces), so the shim's frame —
// bootstrap, ttrpc/gRPC, events, stdio FIFOs, exits, delete after a crash — can be tested end to
// end with real containerd, quickly and without a guest. test_shim.ts is the entry point of a
// separate shim build around it (build/test-bin); the product shim does not contain it.
//
// The init process is spawned at create behind a gate (a shell blocked reading fd 3), so it has a
// pid in the created state, and runs the user program when start opens the gate — the same pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { ExitReason } from '@vfs/proto/gen/containerd/types/task/task';
import { mountFor, unmountContainer } from '@vfs/shim';
import type { ShimProcess } from '@vfs/shim';
import type {
  ContainerRequest,
  ExecRequest,
  ProcessExit,
  ProcessIo,
  ProcessListing,
  ProcessRef,
  RuntimeProcess,
  SandboxRuntime,
  SandboxRuntimeContext,
} from '@vfs/shim';
import { Code, ShimError } from '@vfs/shim';

interface HostProcess {
  readonly child: ChildProcess;
  readonly execId: string;
  readonly exited: Promise<ProcessExit>;
  stopped: boolean;
}

interface HostContainer {
  readonly rootfs: string;
  readonly processes: Map<string, HostProcess>;
  readonly pendingExecs: Map<string, ExecRequest>;
  gate: Writable | undefined;
}

// Runs `args` inside the rootfs, in `cwd`; with GATED, only after a line arrives on fd 3.
const IN_ROOTFS = 'cd "$1" || exit 127; shift; exec "$@"';
const GATED = 'read -r _ <&3 || exit 137; exec 3<&-; exec chroot "$0" /bin/sh -c \'' + IN_ROOTFS + '\' sh "$@"';

function exitOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : constants.signals[signal]);
}

function finished(stream: Writable | undefined): Promise<void> {
  if (stream === undefined || stream.writableFinished || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('finish', resolve);
    stream.once('close', resolve);
  });
}

class HostProcessRuntime implements SandboxRuntime {
  private readonly containers = new Map<string, HostContainer>();

  constructor(private readonly context: SandboxRuntimeContext) {}

  async createContainer(request: ContainerRequest): Promise<RuntimeProcess> {
    if (request.io.terminal)
      throw new ShimError(Code.FailedPrecondition, 'the host-process test double has no terminal support');
    const process = request.spec.process;
    if (process === undefined)
      throw new ShimError(Code.InvalidArgument, `container ${request.containerId}: the spec has no process`);
    const rootfs = join(request.bundle, 'rootfs');
    for (const mount of request.rootfs) {
      await mountFor(this.context.state, request.containerId, { ...mount, target: rootfs });
    }
    const container: HostContainer = { rootfs, processes: new Map(), pendingExecs: new Map(), gate: undefined };
    this.containers.set(request.containerId, container);
    const child = this.spawnIn(
      request.containerId,
      '',
      ['/bin/sh', '-c', GATED, rootfs, process.cwd, ...process.args],
      process,
      request.io,
      true,
    );
    container.gate = child.stdio[3] as Writable;
    return this.track(request.containerId, container, '', child, request.io);
  }

  async startContainer(containerId: string): Promise<void> {
    const container = this.container(containerId);
    container.gate?.end('start\n');
    container.gate = undefined;
  }

  async prepareExec(request: ExecRequest): Promise<void> {
    if (request.io.terminal)
      throw new ShimError(Code.FailedPrecondition, 'the host-process test double has no terminal support');
    this.container(request.containerId).pendingExecs.set(request.execId, request);
  }

  async startExec(ref: ProcessRef): Promise<RuntimeProcess> {
    const container = this.container(ref.containerId);
    const request = container.pendingExecs.get(ref.execId);
    if (request === undefined) throw new ShimError(Code.NotFound, `exec ${ref.execId} not prepared`);
    container.pendingExecs.delete(ref.execId);
    const args = [
      'chroot',
      container.rootfs,
      '/bin/sh',
      '-c',
      IN_ROOTFS,
      'sh',
      request.process.cwd,
      ...request.process.args,
    ];
    const child = this.spawnIn(ref.containerId, ref.execId, args, request.process, request.io, false);
    return this.track(ref.containerId, container, ref.execId, child, request.io);
  }

  async signal(ref: ProcessRef, signal: number, all: boolean): Promise<void> {
    const container = this.container(ref.containerId);
    const targets = all ? [...container.processes.values()] : [container.processes.get(ref.execId)];
    for (const target of targets) {
      if (target !== undefined && !target.stopped && target.child.pid !== undefined)
        process.kill(target.child.pid, signal);
    }
  }

  async resizePty(): Promise<void> {
    throw new ShimError(Code.Unimplemented, 'the host-process test double has no terminal support');
  }

  async pause(containerId: string): Promise<void> {
    await this.signalAll(containerId, 'SIGSTOP');
  }

  async resume(containerId: string): Promise<void> {
    await this.signalAll(containerId, 'SIGCONT');
  }

  async update(): Promise<void> {
    throw new ShimError(Code.Unimplemented, 'the host-process test double has no resource limits');
  }

  async stats(): Promise<never> {
    throw new ShimError(Code.Unimplemented, 'the host-process test double has no cgroup metrics');
  }

  async processes(containerId: string): Promise<readonly ProcessListing[]> {
    return [...this.container(containerId).processes.values()]
      .filter((p) => !p.stopped && p.child.pid !== undefined)
      .map((p) => ({ pid: p.child.pid as number, execId: p.execId }));
  }

  async removeExec(ref: ProcessRef): Promise<void> {
    const container = this.container(ref.containerId);
    container.pendingExecs.delete(ref.execId);
    container.processes.delete(ref.execId);
  }

  async removeContainer(containerId: string): Promise<void> {
    const container = this.container(containerId);
    container.gate?.destroy();
    await this.signalAll(containerId, 'SIGKILL');
    await Promise.all([...container.processes.values()].map((p) => p.exited));
    await unmountContainer(this.context.state, containerId);
    this.containers.delete(containerId);
  }

  async shutdown(): Promise<void> {
    for (const id of [...this.containers.keys()]) await this.removeContainer(id);
  }

  private async signalAll(containerId: string, signal: NodeJS.Signals): Promise<void> {
    for (const p of this.container(containerId).processes.values()) {
      if (!p.stopped && p.child.pid !== undefined) process.kill(p.child.pid, signal);
    }
  }

  private spawnIn(
    containerId: string,
    execId: string,
    args: readonly string[],
    spec: ShimProcess,
    io: ProcessIo,
    gated: boolean,
  ): ChildProcess {
    const env = Object.fromEntries(
      (spec.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const [command, ...rest] = args as [string, ...string[]];
    const child = spawn(command, rest, {
      env,
      stdio: [
        io.stdin === undefined ? 'ignore' : 'pipe',
        io.stdout === undefined ? 'ignore' : 'pipe',
        io.stderr === undefined ? 'ignore' : 'pipe',
        gated ? 'pipe' : 'ignore',
      ],
    });
    if (child.pid === undefined) throw new ShimError(Code.Internal, `cannot spawn ${command} for ${containerId}`);
    this.context.state.recordPid(`proc-${containerId}-${execId === '' ? 'init' : execId}`, child.pid);
    if (io.stdin !== undefined && child.stdin !== null) {
      io.stdin.pipe(child.stdin);
      child.stdin.on('error', () => io.stdin?.unpipe());
    }
    if (io.stdout !== undefined) child.stdout?.pipe(io.stdout);
    if (io.stderr !== undefined) child.stderr?.pipe(io.stderr);
    return child;
  }

  private track(
    containerId: string,
    container: HostContainer,
    execId: string,
    child: ChildProcess,
    io: ProcessIo,
  ): RuntimeProcess {
    const exited = new Promise<ProcessExit>((resolve) => {
      child.once('close', (code, signal) => {
        record.stopped = true;
        this.context.state.forgetPid(`proc-${containerId}-${execId === '' ? 'init' : execId}`);
        const exitStatus = exitOf(code, signal);
        const exit = {
          exitStatus,
          exitedAt: new Date(),
          reason: signal === null ? ExitReason.NONE : ExitReason.SIGNALED,
        };
        void Promise.all([finished(io.stdout), finished(io.stderr)]).then(() => resolve(exit));
      });
    });
    const record: HostProcess = { child, execId, exited, stopped: false };
    container.processes.set(execId, record);
    return { pid: child.pid as number, exited };
  }

  private container(id: string): HostContainer {
    const container = this.containers.get(id);
    if (container === undefined) throw new ShimError(Code.NotFound, `container ${id} not found in the test double`);
    return container;
  }
}

export async function createSandboxRuntime(context: SandboxRuntimeContext): Promise<SandboxRuntime> {
  context.log.warn('using the host-process TEST DOUBLE runtime: containers run on the host, not in a VM');
  return new HostProcessRuntime(context);
}
