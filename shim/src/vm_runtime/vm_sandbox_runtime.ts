// The VM-backed SandboxRuntime: the product's. The first createContainer brings the sandbox up
// (sandbox_vm.ts); each container's directories are then bound into the sandbox's shares
// (share_plan.ts), so the containers of a pod join the running VM without a device each. Every
// call goes to the guest agent over ttrpc, bounded by [agent] request_timeout_ms (WaitProcess
// and the output streams last as long as the process).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { containerMarker, poolSocket, type VolumeInfo } from '@vfs/contracts';
import { Metrics } from '@vfs/proto/gen/cgroups/v2/metrics';
import { unmountContainer } from '../host_mounts';
import { dockerNetnsPath, joinSandboxNetwork, libnetworkHook } from '../pod_network/docker_netns';
import { networkSource } from '../pod_network/pod_network';
import type { LoadedConfig } from '@vfs/runtime-config';
import { containerLogger, type ShimLogger } from '../logger';
import type { ShimSpec } from '../oci_spec';
import type {
  ContainerRequest,
  ExecRequest,
  ProcessListing,
  ProcessRef,
  RuntimeProcess,
  SandboxRuntime,
  SandboxRuntimeContext,
} from '../sandbox_runtime';
import { runDir, sandboxPaths } from '../shim_paths';
import { SandboxError } from '../sandbox_error';
import type { AgentClient } from './agent_dial';
import { oomFilter } from './oom_filter';
import { watchOom } from './oom_watch';
import { phaseClock, PhaseClock } from './phase_clock';
import { trackGuestProcess, type GuestProcess } from './guest_process';
import { sandboxLayout, type SandboxLayout } from './sandbox_layout';
import { sandboxVmConfig } from './sandbox_sizing';
import { startSandboxVm, type SandboxVm } from './sandbox_vm';
import { serveManagement } from './management_server';
import { planContainerShares, type ContainerDir } from './share_plan';
import type { VolumeRequest } from './volume_hotplug';

interface GuestContainer {
  readonly id: string;
  readonly init: GuestProcess;
  readonly execs: Map<string, { readonly request: ExecRequest; process: GuestProcess | undefined }>;
  /** Its directories in the sandbox's shares. */
  readonly dirs: readonly ContainerDir[];
  readonly log: ShimLogger;
}

/** Starts the sandbox's VM; a seam for tests, which stand a fake agent in for the VM. */
export type SandboxVmStarter = (request: ContainerRequest) => Promise<SandboxVm>;

export class VmSandboxRuntime implements SandboxRuntime {
  private vm: SandboxVm | undefined;
  private readonly containers = new Map<string, GuestContainer>();
  private nextIndex = 0;
  private management: { close(): Promise<void> } | undefined;
  /** Creates run one at a time: the first brings the VM up, the others must see it. */
  private createQueue: Promise<unknown> = Promise.resolve();
  private pendingCreates = 0;
  /** The sandbox's own container was removed and its VM stopped: no container can join it. */
  private ended = false;

  constructor(
    private readonly context: SandboxRuntimeContext,
    private readonly startVm: SandboxVmStarter,
    /** Off unless VFS_TIMINGS_DIR is set: then the first container's milestones are saved. */
    private readonly clock: PhaseClock = new PhaseClock(context.sandboxId, undefined, ''),
  ) {}

  createContainer(request: ContainerRequest): Promise<RuntimeProcess> {
    this.pendingCreates += 1;
    const created = this.createQueue.then(() => this.create(request));
    // Only the order matters to the queue; the outcome is the caller's.
    this.createQueue = created.catch(() => undefined);
    return created.finally(() => {
      this.pendingCreates -= 1;
    });
  }

  async startContainer(containerId: string): Promise<void> {
    const container = this.container(containerId);
    await this.agent().startContainer({ containerId }, this.timeout());
    this.clock.mark('containerStarted');
    container.init.startStdin();
  }

  async prepareExec(request: ExecRequest): Promise<void> {
    this.container(request.containerId).execs.set(request.execId, { request, process: undefined });
  }

  async startExec(ref: ProcessRef): Promise<RuntimeProcess> {
    const container = this.container(ref.containerId);
    const exec = container.execs.get(ref.execId);
    if (exec === undefined)
      throw new SandboxError('not-found', `exec ${ref.execId} of ${ref.containerId} was not prepared`);
    const { request } = exec;
    const answer = await this.agent().execProcess(
      {
        containerId: ref.containerId,
        execId: ref.execId,
        processJson: Buffer.from(request.processJson),
        terminal: request.io.terminal,
        stdin: request.io.stdin !== undefined,
      },
      this.timeout(),
    );
    const process = trackGuestProcess(this.agent(), ref, request.io, container.log.child({ execId: ref.execId }));
    exec.process = process;
    process.startStdin();
    return { pid: answer.pid, exited: process.exited };
  }

  async signal(ref: ProcessRef, signal: number, all: boolean): Promise<void> {
    await this.agent().signalProcess({ containerId: ref.containerId, execId: ref.execId, signal, all }, this.timeout());
  }

  async resizePty(ref: ProcessRef, size: { readonly width: number; readonly height: number }): Promise<void> {
    await this.agent().ttyWinResize(
      { containerId: ref.containerId, execId: ref.execId, rows: size.height, columns: size.width },
      this.timeout(),
    );
  }

  async pause(containerId: string): Promise<void> {
    await this.agent().pauseContainer({ containerId }, this.timeout());
  }

  async resume(containerId: string): Promise<void> {
    await this.agent().resumeContainer({ containerId }, this.timeout());
  }

  async update(containerId: string, resourcesJson: string): Promise<void> {
    await this.agent().updateContainer({ containerId, resourcesJson: Buffer.from(resourcesJson) }, this.timeout());
  }

  async stats(containerId: string): Promise<Metrics> {
    const answer = await this.agent().statsContainer({ containerId }, this.timeout());
    return answer.metrics ?? Metrics.fromPartial({});
  }

  async processes(containerId: string): Promise<readonly ProcessListing[]> {
    const answer = await this.agent().listProcesses({ containerId }, this.timeout());
    return answer.processes.map((p) => ({ pid: p.pid, execId: p.execId }));
  }

  async removeExec(ref: ProcessRef): Promise<void> {
    this.container(ref.containerId).execs.delete(ref.execId);
  }

  async removeContainer(containerId: string): Promise<void> {
    const container = this.container(containerId);
    const vm = this.vm;
    if (vm !== undefined && !vm.isLost()) {
      if (this.endsSandbox(containerId)) {
        // Nothing can join a sandbox whose own container goes last, and containerd's Shutdown
        // follows: stopping the VM now ends whatever of the container the guest still ran, so
        // the guest's own removal (0.2–0.35 s under TCG) is skipped. Every host mount is gone
        // when this returns, as containerd needs before it removes the snapshot.
        this.ended = true;
        await this.clock.saved();
        container.log.debug('the sandbox ends with its own container: stopping the VM');
        await vm.stop(false);
      } else {
        // The agent's own wait ends well before the call's deadline, so its answer says what failed.
        const agentWaitMs = Math.floor(this.context.config.config.agent.request_timeout_ms / 2);
        await vm.agent.removeContainer({ containerId, timeoutMs: agentWaitMs }, this.timeout());
        await vm.volumes.removeAll(containerId);
      }
    }
    await this.releaseDirs(containerId, container.dirs);
    this.containers.delete(containerId);
    rmSync(containerMarker(this.context.state.dir, containerId), { force: true });
    container.log.info('container removed from the sandbox');
  }

  async addVolume(request: VolumeRequest): Promise<VolumeInfo> {
    this.container(request.containerId);
    return this.runningVm().volumes.add(request);
  }

  async removeVolume(containerId: string, target: string): Promise<void> {
    this.container(containerId);
    await this.runningVm().volumes.remove(containerId, target);
  }

  listVolumes(containerId: string): readonly VolumeInfo[] {
    if (containerId !== '') this.container(containerId);
    return this.vm?.volumes.list(containerId) ?? [];
  }

  /** Serves vfs-runtime on the sandbox's management socket until shutdown. */
  async listenManagement(path: string): Promise<void> {
    this.management = await serveManagement(path, this, containerLogger(this.context.log, this.context.sandboxId));
  }

  async shutdown(): Promise<void> {
    await this.management?.close();
    await this.createQueue;
    const vm = this.vm;
    if (vm === undefined) return;
    await vm.stop(this.containers.size > 0);
  }

  private async create(request: ContainerRequest): Promise<RuntimeProcess> {
    this.clock.mark('createCalled');
    const log = containerLogger(this.context.log, request.containerId);
    const plan = planContainerShares({
      containerIndex: this.nextIndex++,
      bundle: request.bundle,
      rootfs: request.rootfs,
      spec: request.spec,
    });
    const vm = await this.vmFor(request);
    try {
      const bindStart = performance.now();
      await vm.bindContainerDirs(request.containerId, plan.dirs);
      const guestStart = performance.now();
      const answer = await vm.agent.createContainer(
        {
          containerId: request.containerId,
          ociSpecJson: Buffer.from(guestSpecJson(request, plan.specJson)),
          rootfs: plan.rootfs,
          mounts: [...plan.mounts],
          terminal: request.io.terminal,
          stdin: request.io.stdin !== undefined,
        },
        this.timeout(),
      );
      this.clock.mark('containerCreated');
      const init = trackGuestProcess(vm.agent, { containerId: request.containerId, execId: '' }, request.io, log);
      void init.exited.then(() => {
        this.clock.mark('exitSeen');
        return this.clock.save(vm.agent);
      });
      this.containers.set(request.containerId, {
        id: request.containerId,
        init,
        execs: new Map(),
        dirs: plan.dirs,
        log,
      });
      markContainer(this.context.state.dir, request.containerId);
      const ms = { bind: Math.round(guestStart - bindStart), guest: Math.round(performance.now() - guestStart) };
      log.info({ pid: answer.pid, dirs: plan.dirs.map((d) => d.target), ms }, 'container created in the guest');
      return { pid: answer.pid, exited: init.exited };
    } catch (err) {
      await this.releaseFailedCreate(request.containerId, plan.dirs);
      throw err;
    }
  }

  /** The sandbox's own container (a pod's pause), with no other container in it nor on its way. */
  private endsSandbox(containerId: string): boolean {
    return containerId === this.context.sandboxId && this.containers.size === 1 && this.pendingCreates === 0;
  }

  private async vmFor(request: ContainerRequest): Promise<SandboxVm> {
    if (this.vm === undefined) {
      const vm = await this.startVm(request);
      this.vm = vm;
      const log = containerLogger(this.context.log, this.context.sandboxId);
      const onOom = oomFilter({ isOurs: (id) => this.containers.has(id), publish: this.context.onOom, log });
      void watchOom(vm.agent, onOom, log);
      return vm;
    }
    if (this.vm.isLost()) throw new SandboxError('unreachable', `sandbox ${this.context.sandboxId}: its VM is gone`);
    if (this.ended)
      throw new SandboxError(
        'wrong-state',
        `sandbox ${this.context.sandboxId} has ended: its own container was deleted`,
      );
    return this.vm;
  }

  /** A create that failed after bring-up: with no container left the sandbox goes too. */
  private async releaseFailedCreate(containerId: string, dirs: readonly ContainerDir[]): Promise<void> {
    await this.releaseDirs(containerId, dirs);
    if (this.containers.size === 0 && this.vm !== undefined) {
      const vm = this.vm;
      this.vm = undefined;
      await vm.stop(false);
    }
  }

  private async releaseDirs(containerId: string, dirs: readonly ContainerDir[]): Promise<void> {
    if (this.vm === undefined) await unmountContainer(this.context.state, containerId);
    else await this.vm.releaseContainerDirs(containerId, dirs);
  }

  private runningVm(): SandboxVm {
    const vm = this.vm;
    if (vm === undefined) throw new SandboxError('wrong-state', `sandbox ${this.context.sandboxId} has no VM`);
    if (vm.isLost()) throw new SandboxError('unreachable', `sandbox ${this.context.sandboxId}: its VM is gone`);
    return vm;
  }

  private agent(): AgentClient {
    const vm = this.vm;
    if (vm === undefined) throw new SandboxError('wrong-state', `sandbox ${this.context.sandboxId} has no VM`);
    if (vm.isLost()) throw new SandboxError('unreachable', `sandbox ${this.context.sandboxId}: its VM is gone`);
    return vm.agent;
  }

  private timeout(): { timeoutMs: number } {
    return { timeoutMs: this.context.config.config.agent.request_timeout_ms };
  }

  private container(id: string): GuestContainer {
    const container = this.containers.get(id);
    if (container === undefined)
      throw new SandboxError('not-found', `container ${id} is not in sandbox ${this.context.sandboxId}`);
    return container;
  }
}

/** The spec for the agent: a Docker container joins the network the shim gave its VM. */
function guestSpecJson(request: ContainerRequest, specJson: string): string {
  if (libnetworkHook(request.spec) === undefined) return specJson;
  return joinSandboxNetwork(specJson, dockerNetnsPath(request.containerId));
}

/** A file per container this sandbox serves: vfs-runtime finds a container's sandbox by it. */
function markContainer(stateDir: string, containerId: string): void {
  const marker = containerMarker(stateDir, containerId);
  mkdirSync(dirname(marker), { recursive: true, mode: 0o700 });
  writeFileSync(marker, '');
}

/** The configuration the sandbox's VM boots with: sized for the workload of its first container. */
function vmConfig(context: SandboxRuntimeContext, spec: ShimSpec): LoadedConfig['config'] {
  const host = { cpus: availableParallelism(), memoryMiB: Math.floor(totalmem() / (1024 * 1024)) };
  const { config, size } = sandboxVmConfig(context.config.config, spec, host);
  const log = containerLogger(context.log, context.sandboxId);
  if (size !== undefined && size.capped.length > 0)
    log.warn({ capped: size.capped }, "the workload's limits were capped");
  if (config !== context.config.config)
    log.info({ memoryMiB: config.hypervisor.memory_mib, vcpus: config.hypervisor.vcpus }, 'VM sized for the workload');
  return config;
}

/** The product's runtime: main.ts hands it to the frame. */
export async function createVmSandboxRuntime(context: SandboxRuntimeContext): Promise<SandboxRuntime> {
  const layout: SandboxLayout = sandboxLayout(runDir(), context.namespace, context.sandboxId);
  const clock = phaseClock(context.sandboxId, layout.consoleLog);
  const starter: SandboxVmStarter = (request) =>
    startSandboxVm({
      sandboxId: context.sandboxId,
      hostname: request.spec.hostname ?? '',
      spec: request.spec,
      config: vmConfig(context, request.spec),
      state: context.state,
      layout,
      log: containerLogger(context.log, context.sandboxId),
      clock,
      network: networkSource(request.spec, request.containerId, request.bundle),
      poolSocket: poolSocket(runDir()),
    });
  const runtime = new VmSandboxRuntime(context, starter, clock);
  await runtime.listenManagement(sandboxPaths(runDir(), context.namespace, context.sandboxId).managementSocket);
  return runtime;
}
