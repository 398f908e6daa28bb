// containerd's Task API (containerd.task.v2.Task; the gRPC server serves the same object as
// containerd.task.v3.Task). It owns what containerd observes — which tasks and execs exist, their
// states, pids, exit statuses and times, the events — and delegates the processes themselves to a
// SandboxRuntime. State rules and status codes follow runc's shim, which containerd is written
// against: a missing task is NotFound, a duplicate AlreadyExists, a call in the wrong state
// FailedPrecondition, Kill of a finished process NotFound ("process already finished"). It is
// where the runtime's domain errors (SandboxError) become statuses: every runtime call goes
// through ShimError.wrap (with the call's context) or fromRuntime (as they are).

import { pid as shimPid } from 'node:process';
import { Metrics } from '@vfs/proto/gen/cgroups/v2/metrics';
import type {
  CheckpointTaskRequest,
  CloseIORequest,
  ConnectRequest,
  ConnectResponse,
  CreateTaskRequest,
  CreateTaskResponse,
  DeleteRequest,
  DeleteResponse,
  ExecProcessRequest,
  KillRequest,
  PauseRequest,
  PidsRequest,
  PidsResponse,
  ResizePtyRequest,
  ResumeRequest,
  ShutdownRequest,
  StartRequest,
  StartResponse,
  StateRequest,
  StateResponse,
  StatsRequest,
  StatsResponse,
  UpdateTaskRequest,
  WaitRequest,
  WaitResponse,
} from '@vfs/proto/gen/containerd/runtime/task/v2/shim';
import { Status } from '@vfs/proto/gen/containerd/types/task/task';
import type { Empty } from '@vfs/proto/gen/google/protobuf/empty';
import type { CallContext, PartialMessage } from '@vfs/proto/ttrpc';
import type { EventSink } from './events';
import { containerLogger, type ShimLogger } from './logger';
import { readBundleSpec, validateProcess } from './oci_spec';
import type { ProcessExit, ProcessRef, RuntimeProcess, SandboxRuntime } from './sandbox_runtime';
import { Code, ShimError } from './shim_error';
import { openStdio, type OpenedStdio, type StdioRequest } from './stdio';
import { SHIM_VERSION } from './version';

const SIGKILL_STATUS = 128 + 9;

/** Turns containerd's Create options into the sandbox's runtime (config lookup, factory). */
export type RuntimeProvider = (createOptions: CreateTaskRequest['options']) => Promise<SandboxRuntime>;

export interface TaskServiceOptions {
  readonly namespace: string;
  readonly runtime: RuntimeProvider;
  readonly events: EventSink;
  /** The root logger (sandbox only): the service binds the container of each line. */
  readonly log: ShimLogger;
  /**
   * Called once Shutdown stopped the runtime, before it answers: the shim's own files go then, since
   * containerd closes the connection on the answer and runs `delete` at once.
   */
  readonly onStopped: () => Promise<void>;
  /** Called once Shutdown found no task left and answered: the server stops and the process exits. */
  readonly onShutdown: () => void;
}

interface ProcessRecord {
  readonly containerId: string;
  readonly execId: string;
  readonly stdioRequest: StdioRequest;
  readonly stdio: OpenedStdio;
  status: Status;
  pid: number;
  exit: ProcessExit | undefined;
  /** Start in progress: an exit reported meanwhile waits for it, so /tasks/start precedes /tasks/exit. */
  starting: Promise<void> | undefined;
  deleted: boolean;
  readonly exited: Promise<ProcessExit>;
  readonly reportExit: (exit: ProcessExit) => void;
}

interface ContainerRecord {
  readonly id: string;
  readonly bundle: string;
  readonly init: ProcessRecord;
  readonly execs: Map<string, ProcessRecord>;
  readonly log: ShimLogger;
}

function newProcess(
  containerId: string,
  execId: string,
  stdioRequest: StdioRequest,
  stdio: OpenedStdio,
): ProcessRecord {
  let reportExit: (exit: ProcessExit) => void = () => undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    reportExit = resolve;
  });
  return {
    containerId,
    execId,
    stdioRequest,
    stdio,
    status: Status.CREATED,
    pid: 0,
    exit: undefined,
    starting: undefined,
    deleted: false,
    exited,
    reportExit,
  };
}

/**
 * Runs a call into the runtime (or its provider): a domain error answers with the status its kind
 * maps to (ShimError.from). Calls whose errors need context go through ShimError.wrap instead.
 */
async function fromRuntime<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw ShimError.from(err);
  }
}

/** Awaits only for ordering: the outcome of a start belongs to the Start call that made it. */
async function afterSettled(promise: Promise<void> | undefined): Promise<void> {
  if (promise === undefined) return;
  await promise.then(
    () => undefined,
    () => undefined,
  );
}

export class TaskService {
  private readonly containers = new Map<string, ContainerRecord>();
  private runtime: SandboxRuntime | undefined;
  private shuttingDown = false;

  constructor(private readonly options: TaskServiceOptions) {}

  async create(request: CreateTaskRequest, ctx: CallContext): Promise<PartialMessage<CreateTaskResponse>> {
    const id = request.id;
    if (this.containers.has(id)) throw new ShimError(Code.AlreadyExists, `task ${id}: already exists`);
    if (request.checkpoint !== '')
      throw new ShimError(Code.Unimplemented, `task ${id}: restoring from a checkpoint is not supported by vfs`);
    const spec = readBundleSpec(request.bundle);
    const runtime = await fromRuntime(() => this.sandboxRuntime(request.options));
    const log = containerLogger(this.options.log, id);
    const stdioRequest = {
      stdin: request.stdin,
      stdout: request.stdout,
      stderr: request.stderr,
      terminal: request.terminal,
    };
    const stdio = await openStdio(stdioRequest, { containerId: id, namespace: this.options.namespace, log });
    let created: RuntimeProcess;
    try {
      created = await runtime.createContainer({
        containerId: id,
        bundle: request.bundle,
        spec,
        rootfs: request.rootfs,
        io: stdio,
      });
    } catch (err) {
      stdio.close();
      throw ShimError.wrap(err, `create task ${id}`);
    }
    const init = newProcess(id, '', stdioRequest, stdio);
    init.pid = created.pid;
    this.containers.set(id, { id, bundle: request.bundle, init, execs: new Map(), log });
    this.watchExit(init, created.exited);
    this.options.events.publish('/tasks/create', {
      containerId: id,
      bundle: request.bundle,
      rootfs: request.rootfs,
      io: { ...stdioRequest },
      checkpoint: request.checkpoint,
      pid: created.pid,
    });
    log.info({ pid: created.pid, method: ctx.method }, 'task created');
    return { pid: created.pid };
  }

  async start(request: StartRequest): Promise<PartialMessage<StartResponse>> {
    const container = this.container(request.id);
    const process = this.process(container, request.execId);
    if (process.status !== Status.CREATED) {
      throw new ShimError(
        Code.FailedPrecondition,
        `${this.name(process)} cannot be started: it is ${Status[process.status]}`,
      );
    }
    const runtime = this.requireRuntime();
    const start =
      process.execId === '' ? this.startInit(runtime, process) : this.startExec(runtime, container, process);
    process.starting = start;
    try {
      await start;
    } catch (err) {
      throw ShimError.wrap(err, `start ${this.name(process)}`);
    } finally {
      process.starting = undefined;
    }
    return { pid: process.pid };
  }

  async delete(request: DeleteRequest): Promise<PartialMessage<DeleteResponse>> {
    const container = this.container(request.id);
    const process = this.process(container, request.execId);
    if (process.status === Status.RUNNING || process.status === Status.PAUSED) {
      throw new ShimError(
        Code.FailedPrecondition,
        `${this.name(process)} is ${Status[process.status]}: kill it before deleting it`,
      );
    }
    const runtime = this.requireRuntime();
    try {
      if (process.execId === '') {
        await runtime.removeContainer(container.id);
      } else {
        await runtime.removeExec({ containerId: container.id, execId: process.execId });
      }
    } catch (err) {
      throw ShimError.wrap(err, `delete ${this.name(process)}`);
    }
    process.deleted = true;
    // A task deleted before it ever ran was killed by removeContainer: report it as runc does.
    const exit = process.exit ?? { exitStatus: SIGKILL_STATUS, exitedAt: new Date() };
    if (process.execId === '') {
      for (const exec of container.execs.values()) exec.stdio.close();
      process.stdio.close();
      this.containers.delete(container.id);
      this.options.events.publish('/tasks/delete', {
        containerId: container.id,
        pid: process.pid,
        exitStatus: exit.exitStatus,
        exitedAt: exit.exitedAt,
      });
    } else {
      process.stdio.close();
      container.execs.delete(process.execId);
    }
    container.log.info({ execId: process.execId, exitStatus: exit.exitStatus }, 'deleted');
    return { pid: process.pid, exitStatus: exit.exitStatus, exitedAt: exit.exitedAt };
  }

  async wait(request: WaitRequest, ctx: CallContext): Promise<PartialMessage<WaitResponse>> {
    const process = this.process(this.container(request.id), request.execId);
    const exit = await Promise.race([
      process.exited,
      new Promise<never>((_, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      }),
    ]);
    return { exitStatus: exit.exitStatus, exitedAt: exit.exitedAt };
  }

  async kill(request: KillRequest): Promise<PartialMessage<Empty>> {
    const process = this.process(this.container(request.id), request.execId);
    if (process.status === Status.STOPPED)
      throw new ShimError(Code.NotFound, `${this.name(process)}: process already finished`);
    if (process.execId !== '' && process.status === Status.CREATED) {
      throw new ShimError(Code.FailedPrecondition, `${this.name(process)} has not been started`);
    }
    const ref: ProcessRef = { containerId: request.id, execId: request.execId };
    try {
      await this.requireRuntime().signal(ref, request.signal, request.all);
    } catch (err) {
      throw ShimError.wrap(err, `kill ${this.name(process)} with signal ${request.signal}`);
    }
    return {};
  }

  async exec(request: ExecProcessRequest): Promise<PartialMessage<Empty>> {
    const container = this.container(request.id);
    if (request.execId === '')
      throw new ShimError(Code.InvalidArgument, `exec in task ${request.id}: an exec id is required`);
    if (container.execs.has(request.execId))
      throw new ShimError(Code.AlreadyExists, `id ${request.execId}: already exists`);
    if (container.init.status !== Status.RUNNING) {
      throw new ShimError(
        Code.FailedPrecondition,
        `task ${request.id} is ${Status[container.init.status]}: exec needs a running task`,
      );
    }
    const processJson = Buffer.from(request.spec?.value ?? Buffer.alloc(0)).toString('utf8');
    const process = validateProcess(
      parseJson(processJson, `exec ${request.execId}`),
      `exec ${request.execId} process spec`,
    );
    const stdioRequest = {
      stdin: request.stdin,
      stdout: request.stdout,
      stderr: request.stderr,
      terminal: request.terminal,
    };
    const log = container.log.child({ execId: request.execId });
    const stdio = await openStdio(stdioRequest, { containerId: request.id, namespace: this.options.namespace, log });
    try {
      await this.requireRuntime().prepareExec({
        containerId: request.id,
        execId: request.execId,
        process,
        processJson,
        io: stdio,
      });
    } catch (err) {
      stdio.close();
      throw ShimError.wrap(err, `exec ${request.execId} in task ${request.id}`);
    }
    container.execs.set(request.execId, newProcess(request.id, request.execId, stdioRequest, stdio));
    this.options.events.publish('/tasks/exec-added', { containerId: request.id, execId: request.execId });
    return {};
  }

  async resizePty(request: ResizePtyRequest): Promise<PartialMessage<Empty>> {
    const process = this.process(this.container(request.id), request.execId);
    if (!process.stdioRequest.terminal)
      throw new ShimError(Code.FailedPrecondition, `${this.name(process)} has no terminal`);
    const size = { width: request.width, height: request.height };
    await fromRuntime(() => this.requireRuntime().resizePty({ containerId: request.id, execId: request.execId }, size));
    return {};
  }

  async closeIO(request: CloseIORequest): Promise<PartialMessage<Empty>> {
    const process = this.process(this.container(request.id), request.execId);
    if (request.stdin) process.stdio.closeStdin();
    return {};
  }

  async state(request: StateRequest): Promise<PartialMessage<StateResponse>> {
    const container = this.container(request.id);
    const process = this.process(container, request.execId);
    const paths = process.stdioRequest;
    return {
      id: request.id,
      bundle: container.bundle,
      pid: process.pid,
      status: process.status,
      stdin: paths.stdin,
      stdout: paths.stdout,
      stderr: paths.stderr,
      terminal: paths.terminal,
      exitStatus: process.exit?.exitStatus ?? 0,
      exitedAt: process.exit?.exitedAt,
      execId: request.execId,
    };
  }

  async pids(request: PidsRequest): Promise<PartialMessage<PidsResponse>> {
    this.container(request.id);
    const listing = await fromRuntime(() => this.requireRuntime().processes(request.id));
    return { processes: listing.map((entry) => ({ pid: entry.pid })) };
  }

  async stats(request: StatsRequest): Promise<PartialMessage<StatsResponse>> {
    this.container(request.id);
    const metrics = await fromRuntime(() => this.requireRuntime().stats(request.id));
    return {
      stats: { typeUrl: 'io.containerd.cgroups.v2.Metrics', value: Buffer.from(Metrics.encode(metrics).finish()) },
    };
  }

  async connect(request: ConnectRequest): Promise<PartialMessage<ConnectResponse>> {
    return { shimPid, taskPid: this.containers.get(request.id)?.init.pid ?? 0, version: SHIM_VERSION };
  }

  async pause(request: PauseRequest): Promise<PartialMessage<Empty>> {
    const container = this.container(request.id);
    if (container.init.status !== Status.RUNNING)
      throw new ShimError(
        Code.FailedPrecondition,
        `task ${request.id} is ${Status[container.init.status]}, not RUNNING`,
      );
    await fromRuntime(() => this.requireRuntime().pause(request.id));
    container.init.status = Status.PAUSED;
    this.options.events.publish('/tasks/paused', { containerId: request.id });
    return {};
  }

  async resume(request: ResumeRequest): Promise<PartialMessage<Empty>> {
    const container = this.container(request.id);
    if (container.init.status !== Status.PAUSED)
      throw new ShimError(
        Code.FailedPrecondition,
        `task ${request.id} is ${Status[container.init.status]}, not PAUSED`,
      );
    await fromRuntime(() => this.requireRuntime().resume(request.id));
    container.init.status = Status.RUNNING;
    this.options.events.publish('/tasks/resumed', { containerId: request.id });
    return {};
  }

  async update(request: UpdateTaskRequest): Promise<PartialMessage<Empty>> {
    this.container(request.id);
    // containerd packs OCI LinuxResources as JSON (typeurl of a non-protobuf Go type).
    const resourcesJson = Buffer.from(request.resources?.value ?? Buffer.alloc(0)).toString('utf8');
    parseJson(resourcesJson, `update of task ${request.id}`);
    await fromRuntime(() => this.requireRuntime().update(request.id, resourcesJson));
    return {};
  }

  async checkpoint(request: CheckpointTaskRequest): Promise<PartialMessage<Empty>> {
    throw new ShimError(
      Code.Unimplemented,
      `checkpoint of task ${request.id}: vfs cannot checkpoint a task (its memory is a VM's)`,
    );
  }

  async shutdown(request: ShutdownRequest): Promise<PartialMessage<Empty>> {
    if (this.containers.size > 0 || this.shuttingDown) {
      containerLogger(this.options.log, request.id).debug(
        { tasks: [...this.containers.keys()] },
        'shutdown ignored: tasks remain',
      );
      return {};
    }
    this.shuttingDown = true;
    const runtime = this.runtime;
    if (runtime !== undefined) await fromRuntime(() => runtime.shutdown());
    await this.options.onStopped();
    // Answer first: containerd then sees the connection close, which it expects after Shutdown.
    setImmediate(() => this.options.onShutdown());
    return {};
  }

  /** OOM reported by the runtime. */
  reportOom(containerId: string): void {
    this.options.events.publish('/tasks/oom', { containerId });
  }

  private async sandboxRuntime(createOptions: CreateTaskRequest['options']): Promise<SandboxRuntime> {
    this.runtime ??= await this.options.runtime(createOptions);
    return this.runtime;
  }

  private requireRuntime(): SandboxRuntime {
    if (this.runtime === undefined)
      throw new ShimError(Code.FailedPrecondition, 'no task has been created in this shim');
    return this.runtime;
  }

  private async startInit(runtime: SandboxRuntime, process: ProcessRecord): Promise<void> {
    await runtime.startContainer(process.containerId);
    if (process.status === Status.CREATED) process.status = Status.RUNNING;
    this.options.events.publish('/tasks/start', { containerId: process.containerId, pid: process.pid });
  }

  private async startExec(runtime: SandboxRuntime, container: ContainerRecord, process: ProcessRecord): Promise<void> {
    let started: RuntimeProcess;
    try {
      if (container.init.status !== Status.RUNNING) {
        throw new ShimError(
          Code.FailedPrecondition,
          `task ${container.id} is ${Status[container.init.status]}: exec needs a running task`,
        );
      }
      started = await runtime.startExec({ containerId: process.containerId, execId: process.execId });
    } catch (err) {
      // An exec that never ran lets go of its stdio, as with runc: containerd's client waits for
      // EOF on the output FIFOs (which we hold open) before it reports the failed Start.
      process.stdio.close();
      throw err;
    }
    process.pid = started.pid;
    process.status = Status.RUNNING;
    this.watchExit(process, started.exited);
    this.options.events.publish('/tasks/exec-started', {
      containerId: process.containerId,
      execId: process.execId,
      pid: started.pid,
    });
  }

  private watchExit(process: ProcessRecord, exited: Promise<ProcessExit>): void {
    void exited.then(async (exit) => {
      await afterSettled(process.starting);
      process.status = Status.STOPPED;
      process.exit = exit;
      if (!process.deleted) {
        this.options.events.publish('/tasks/exit', {
          containerId: process.containerId,
          id: process.execId === '' ? process.containerId : process.execId,
          pid: process.pid,
          exitStatus: exit.exitStatus,
          exitedAt: exit.exitedAt,
        });
      }
      containerLogger(this.options.log, process.containerId).info(
        { execId: process.execId, exitStatus: exit.exitStatus },
        'process exited',
      );
      process.reportExit(exit);
    });
  }

  private container(id: string): ContainerRecord {
    const container = this.containers.get(id);
    if (container === undefined) throw new ShimError(Code.NotFound, `task ${id} not found`);
    return container;
  }

  private process(container: ContainerRecord, execId: string): ProcessRecord {
    if (execId === '') return container.init;
    const exec = container.execs.get(execId);
    if (exec === undefined) throw new ShimError(Code.NotFound, `exec ${execId} of task ${container.id} not found`);
    return exec;
  }

  private name(process: ProcessRecord): string {
    return process.execId === ''
      ? `task ${process.containerId}`
      : `exec ${process.execId} of task ${process.containerId}`;
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw ShimError.wrap(err, `${what}: invalid JSON`, Code.InvalidArgument);
  }
}
