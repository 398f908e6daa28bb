/**
 * A container in the guest: its cgroup, its init (held at a barrier between create and start,
 * as runc's create/start split) and its execs. State follows the init: created → running
 * (⇄ paused) → stopped.
 */
import type { OciProcess, OciResources } from '@vfs/contracts';
import type { ContainerSpec } from '../oci/container_spec';
import { ContainerCgroup, type CgroupStats } from './cgroups';
import { execPlan, initPlan } from './container_plan';
import { ContainerProcess } from './container_process';
import { ContainerError } from './errors';
import { ensureGuestSetup } from './guest_setup';
import type { PlanStep } from './launch_plan';
import { planNamespaces, type NamespacePlan } from './namespaces';
import type { ExitStatus } from './process_launcher';
import type { RootfsSpec } from './rootfs';
import type { SpareLauncher } from './spare_launcher';

export interface ContainerConfig {
  readonly id: string;
  readonly spec: ContainerSpec;
  readonly rootfs: RootfsSpec;
  /**
   * Steps the init's launcher runs first, in the agent's namespaces: the sandbox's own set-up
   * (clock, entropy, hostname), when CreateSandbox had no launch of its own to run them in.
   */
  readonly sandboxSetup?: readonly PlanStep[];
}

export interface RuntimeOptions {
  /** vfs-launcher, next to agent.js in the runtime share. */
  readonly launcherPath: string;
  /** The agent's launcher started ahead, for container inits and execs. */
  readonly spareLauncher?: SpareLauncher;
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'stopped';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkId(id: string, what: string, containerId?: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new ContainerError('INVALID_SPEC', `${what} "${id}" must match ${ID_PATTERN}`, { containerId });
  }
}

/** Planning errors raised below the container (capabilities, rlimits) get its id attached. */
function inContainer<T>(containerId: string, action: () => T): T {
  try {
    return action();
  } catch (err) {
    if (err instanceof ContainerError && err.containerId === undefined) {
      throw new ContainerError(err.code, err.message, { containerId, errno: err.errno, cause: err });
    }
    throw err;
  }
}

export class Container {
  private readonly execs = new Map<string, ContainerProcess>();
  private paused = false;
  private started = false;

  private constructor(
    readonly id: string,
    readonly spec: ContainerSpec,
    readonly init: ContainerProcess,
    private readonly cgroup: ContainerCgroup,
    private readonly namespaces: NamespacePlan,
    private readonly options: RuntimeOptions,
  ) {}

  static async create(config: ContainerConfig, options: RuntimeOptions): Promise<Container> {
    const { id, spec } = config;
    checkId(id, 'container id');
    const namespaces = inContainer(id, () => planNamespaces(spec, id));
    ensureGuestSetup();
    const cgroup = ContainerCgroup.create(id, spec.linux?.resources);
    try {
      const plan = inContainer(id, () => initPlan(spec, config.rootfs, namespaces, cgroup.path));
      const init = await ContainerProcess.launch({
        launcherPath: options.launcherPath,
        spare: options.spareLauncher,
        ...plan,
        parentSteps: [...(config.sandboxSetup ?? []), ...plan.parentSteps],
        held: true,
        context: { containerId: id },
      });
      return new Container(id, spec, init, cgroup, namespaces, options);
    } catch (err) {
      cgroup.remove();
      throw err;
    }
  }

  get status(): ContainerStatus {
    if (this.init.exited !== undefined) return 'stopped';
    if (this.paused) return 'paused';
    return this.started ? 'running' : 'created';
  }

  async start(): Promise<void> {
    this.expect('created', 'start');
    this.started = true;
    await this.init.start();
  }

  async exec(execId: string, process: OciProcess): Promise<ContainerProcess> {
    checkId(execId, 'exec id', this.id);
    if (this.execs.has(execId)) {
      throw new ContainerError('ALREADY_EXISTS', `exec id ${execId} is already in use`, {
        containerId: this.id,
        execId,
      });
    }
    this.expect('running', 'exec into');
    const plan = inContainer(this.id, () => execPlan(process, this.init.pid, this.namespaces, this.cgroup.path));
    const proc = await ContainerProcess.launch({
      launcherPath: this.options.launcherPath,
      spare: this.options.spareLauncher,
      ...plan,
      held: false,
      context: { containerId: this.id, execId },
    });
    this.execs.set(execId, proc);
    return proc;
  }

  /** The init without an exec id, else that exec. */
  process(execId?: string): ContainerProcess {
    if (execId === undefined || execId === '') return this.init;
    const proc = this.execs.get(execId);
    if (proc === undefined) {
      throw new ContainerError('NOT_FOUND', `no exec with id ${execId}`, { containerId: this.id, execId });
    }
    return proc;
  }

  signal(signal: number, execId?: string): void {
    this.process(execId).signal(signal);
  }

  wait(execId?: string): Promise<ExitStatus> {
    return this.process(execId).wait();
  }

  async pause(): Promise<void> {
    this.expect('running', 'pause');
    await this.cgroup.freeze();
    this.paused = true;
  }

  async resume(): Promise<void> {
    this.expect('paused', 'resume');
    await this.cgroup.thaw();
    this.paused = false;
  }

  stats(): CgroupStats {
    return this.cgroup.stats();
  }

  pids(): number[] {
    return this.cgroup.pids();
  }

  /** SIGKILL to every process of the container, those it forks meanwhile too. */
  killAll(): void {
    this.cgroup.killAll();
  }

  /** Exec id by guest pid, for the execs still known (the init has none). */
  execIdsByPid(): Map<number, string> {
    return new Map([...this.execs].map(([execId, proc]) => [proc.pid, execId]));
  }

  update(resources: OciResources): void {
    if (this.status === 'stopped') {
      throw new ContainerError('BAD_STATE', 'cannot update a stopped container', { containerId: this.id });
    }
    inContainer(this.id, () => this.cgroup.apply(resources));
  }

  async resize(rows: number, cols: number, execId?: string): Promise<void> {
    await this.process(execId).resize(rows, cols);
  }

  /**
   * Ends the container: SIGKILL to its init; the kernel then kills the whole pid namespace
   * (frozen tasks included: cgroup v2 lets fatal signals through the freezer).
   */
  async kill(): Promise<void> {
    if (this.init.exited === undefined) this.init.signal(9);
    await this.init.wait();
    await Promise.all([...this.execs.values()].map((p) => p.wait()));
  }

  /** Only a stopped container is deleted; its cgroup goes once its last process is reaped. */
  async delete(): Promise<void> {
    this.expect('stopped', 'delete');
    await Promise.all([...this.execs.values()].map((p) => p.wait()));
    await this.cgroup.waitEmpty();
    this.cgroup.remove();
    for (const proc of [this.init, ...this.execs.values()]) proc.close();
  }

  private expect(status: ContainerStatus, action: string): void {
    if (this.status !== status) {
      throw new ContainerError('BAD_STATE', `cannot ${action} a ${this.status} container (needs ${status})`, {
        containerId: this.id,
      });
    }
  }
}
