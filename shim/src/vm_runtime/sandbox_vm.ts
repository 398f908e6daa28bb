// The running infrastructure of one sandbox: vfs-virtiofsd, QEMU and the agent connection, with
// the host bind mounts behind the shares. Bring-up is all or nothing: every step registers its
// undo, and a failure runs them in reverse, so a failed Create leaves no process, mount, socket
// or directory behind. Afterwards the VM is watched: QEMU, the daemon or the agent connection
// going away marks the sandbox lost (`lost` resolves with why) and tears it down, which fails
// every pending agent call — processes then report LOST_STATUS (guest_process.ts).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RUNTIME_TAG, errorMessage } from '@vfs/contracts';
import { installRoot, type LoadedConfig, runtimeShareDir } from '@vfs/runtime-config';
import { fileTailOrError } from '../vm/console_log';
import { removeUnmountedTree, unmountAll } from '../host_mounts';
import type { ShimLogger } from '../logger';
import type { SandboxState } from '../sandbox_state';
import { SandboxError } from '../sandbox_error';
import { dockerNetns } from '../pod_network/docker_netns';
import { type NetworkSource, setUpPodNetwork, type PodNetwork } from '../pod_network/pod_network';
import { dialAgent, type AgentClient, type AgentConnection } from './agent_dial';
import { bindContainerDirs, releaseContainerDirs } from './container_dirs';
import type { PhaseClock } from './phase_clock';
import { vhostUserSocket, type SandboxLayout } from './sandbox_layout';
import {
  bindShare,
  exportShare,
  makeSharesMountPoint,
  makeStagingMountPoint,
  type ExportedShare,
} from './share_exports';
import { containerShares, GUEST_SHARES_DIR, type ContainerDir, type SandboxShare } from './share_plan';
import { controlVm, type ControlledVm } from './vm_control';
import { checkReadable, hotplugSlots, startVm } from './vm_launch';
import { VolumeHotplug, type Volumes } from './volume_hotplug';
import { startDaemon, type RunningDaemon } from './virtiofsd_process';

const DESTROY_TIMEOUT_MS = 5000;
const QEMU_STOP_GRACE_MS = 2000;
/** The runtime share's mounts belong to the sandbox, not to a container. */
const SANDBOX_OWNER = '';

export interface SandboxVmOptions {
  readonly sandboxId: string;
  readonly hostname: string;
  readonly config: LoadedConfig['config'];
  readonly state: SandboxState;
  readonly layout: SandboxLayout;
  readonly log: ShimLogger;
  /** Cold-start milestones (bench-coldstart) of the bring-up: daemon, QEMU, agent, CreateSandbox. */
  readonly clock: PhaseClock;
  /** Where the pod's network is (pod_network.ts); none: the VM has no NIC. */
  readonly network?: NetworkSource;
}

export interface SandboxVm {
  readonly agent: AgentClient;
  /** Resolves with the reason when the VM died without being asked to. */
  readonly lost: Promise<string>;
  readonly isLost: () => boolean;
  /** Binds a container's directories into the sandbox's shares, where the guest sees them at once. */
  bindContainerDirs(containerId: string, dirs: readonly ContainerDir[]): Promise<void>;
  /** Unmounts a container's directories (lazily if the guest still holds them) and removes their mount points. */
  releaseContainerDirs(containerId: string, dirs: readonly ContainerDir[]): Promise<void>;
  /** Volumes hot-plugged into running containers (vfs-runtime volume). */
  readonly volumes: Volumes;
  /** DestroySandbox, then QEMU, the daemon, the mounts, the sockets; idempotent. */
  stop(): Promise<void>;
}

/** build/runtime from `make runtime`, found like the kernel: under the install root. */
export function runtimeDir(): string {
  return runtimeShareDir(installRoot());
}

const RUNTIME_SHARE: SandboxShare = { tag: DEFAULT_RUNTIME_TAG, readonly: true, cache: 'always', xattr: false };

/** Every share the VM boots with: the runtime, then the two that hold the containers' directories. */
function bootShares(options: SandboxVmOptions): readonly SandboxShare[] {
  return [RUNTIME_SHARE, ...containerShares(options.config.daemon.cache)];
}

function checkInputs(options: SandboxVmOptions): void {
  const { hypervisor, daemon } = options.config;
  checkReadable(hypervisor.kernel, 'hypervisor.kernel');
  checkReadable(hypervisor.initramfs, 'hypervisor.initramfs');
  checkReadable(daemon.path, 'daemon.path');
  checkReadable(join(runtimeDir(), 'agent.js'), 'the guest runtime share (make runtime)');
  checkReadable(join(runtimeDir(), 'node'), 'the guest runtime share (make runtime)');
}

/** Undo steps of a bring-up, run newest first; each failure is logged and the rest still run. */
class UndoStack {
  private readonly steps: { what: string; run: () => Promise<void> }[] = [];

  constructor(private readonly log: ShimLogger) {}

  push(what: string, run: () => Promise<void>): void {
    this.steps.push({ what, run });
  }

  async runAll(): Promise<Error[]> {
    const failures: Error[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.run();
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        this.log.error({ step: step.what, err: error.message }, 'sandbox teardown step failed');
        failures.push(error);
      }
    }
    return failures;
  }
}

function consoleTail(layout: SandboxLayout): string {
  return fileTailOrError(layout.consoleLog, 15);
}

class Bringup {
  readonly undo: UndoStack;

  constructor(private readonly options: SandboxVmOptions) {
    this.undo = new UndoStack(options.log);
  }

  prepareDirs(): void {
    const { layout } = this.options;
    mkdirSync(layout.sharesDir, { recursive: true, mode: 0o700 });
    mkdirSync(layout.socketDir, { recursive: true, mode: 0o700 });
    this.undo.push('remove the socket dir', () => removeUnmountedTree(layout.socketDir));
    this.undo.push('remove the shares dir', () => removeUnmountedTree(layout.sharesDir));
    this.undo.push('remove the staging dir', () => removeUnmountedTree(layout.stagingDir));
  }

  /** The shared and staging mount points, the runtime's bind, and the (empty) container shares. */
  async mountShares(): Promise<void> {
    const { state, layout } = this.options;
    this.undo.push('unmount the shares', () => unmountAll(state));
    await makeSharesMountPoint(state, layout.sharesDir, SANDBOX_OWNER);
    await makeStagingMountPoint(state, layout.stagingDir, SANDBOX_OWNER);
    const runtime = {
      source: runtimeDir(),
      target: DEFAULT_RUNTIME_TAG,
      wrapsFile: false,
      recursive: false,
      readonly: true,
    };
    await bindShare(state, layout, SANDBOX_OWNER, runtime);
    for (const share of containerShares(this.options.config.daemon.cache)) {
      mkdirSync(join(layout.sharesDir, share.tag), { mode: 0o700 });
    }
  }

  async daemon(): Promise<RunningDaemon> {
    const { config, layout, state, log } = this.options;
    const daemon = await startDaemon(
      {
        binary: config.daemon.path,
        controlSocket: layout.controlSocket,
        sharedDir: layout.sharesDir,
        stderrPath: layout.daemonStderr,
        config: config.daemon,
        log,
      },
      (pid) => {
        state.recordPid('virtiofsd', pid);
        this.options.clock.mark('daemonSpawned');
      },
    );
    this.undo.push('stop vfs-virtiofsd', async () => {
      daemon.control.close();
      await daemon.stop();
      state.forgetPid('virtiofsd');
    });
    return daemon;
  }

  async exportAll(daemon: RunningDaemon): Promise<ExportedShare[]> {
    const exported: ExportedShare[] = [];
    for (const [index, share] of bootShares(this.options).entries()) {
      exported.push(await exportShare(daemon.control, share, vhostUserSocket(this.options.layout, index)));
    }
    return exported;
  }

  /** The pod's interfaces mirrored to taps, removed after QEMU has let go of them. */
  async network(): Promise<PodNetwork | undefined> {
    const { network: source, log } = this.options;
    if (source === undefined) return undefined;
    const netnsPath = source.kind === 'netns' ? source.path : await this.dockerNetns(source);
    const network = await setUpPodNetwork(netnsPath, log);
    this.undo.push('remove the pod network taps', () => network.remove());
    return network;
  }

  /** The netns the shim makes for a Docker container, filled by dockerd; deleted last. */
  private async dockerNetns(source: Extract<NetworkSource, { kind: 'docker' }>): Promise<string> {
    const netns = await dockerNetns(source.hook, source.containerId, source.bundle);
    this.undo.push('delete the docker container netns', () => netns.remove());
    return netns.path;
  }

  /** QEMU, and the QMP connection the sandbox keeps to it (vm_control.ts). */
  async vm(exported: readonly ExportedShare[], network: PodNetwork | undefined): Promise<ControlledVm> {
    const { config, layout, state, sandboxId, log } = this.options;
    const devices = exported.map((share, index) => ({
      id: `fs${index}`,
      socketPath: share.socketPath,
      tag: share.tag,
    }));
    const qemu = await startVm({ sandboxId, hypervisor: config.hypervisor, layout, devices, network });
    state.recordPid('qemu', qemu.pid);
    let vm: ControlledVm | undefined;
    this.undo.push('stop QEMU', async () => {
      await (vm === undefined ? qemu.stop(QEMU_STOP_GRACE_MS) : vm.stop(QEMU_STOP_GRACE_MS));
      state.forgetPid('qemu');
    });
    vm = await controlVm(qemu, layout.qmpSocket, log);
    return vm;
  }

  async agent(qemu: ControlledVm, daemon: RunningDaemon): Promise<AgentConnection> {
    const { config, layout, log } = this.options;
    const vmGone = Promise.race([qemu.gone, daemon.exited]);
    const connection = await dialAgent({
      socketPath: layout.agentSocket,
      timeoutMs: config.agent.dial_timeout_ms,
      vmGone,
      log,
    }).catch(async (err: unknown) => {
      const status = await qemu.queryStatus().then(
        (s) => s.status,
        (e: unknown) => `unknown (${errorMessage(e)})`,
      );
      throw SandboxError.wrap(
        err,
        `sandbox VM (QEMU status ${status}; console ${layout.consoleLog}; last lines:\n${consoleTail(layout)}\n)`,
      );
    });
    this.undo.push('close the agent connection', async () => connection.client.close());
    return connection;
  }

  async createSandbox(agent: AgentClient, network: PodNetwork | undefined): Promise<void> {
    const { sandboxId, hostname, config } = this.options;
    const shares = containerShares(config.daemon.cache);
    await agent.createSandbox(
      {
        sandboxId,
        hostname,
        shares: shares.map((s) => ({
          tag: s.tag,
          mountPoint: `${GUEST_SHARES_DIR}/${s.tag}`,
          readonly: s.readonly,
          options: [],
        })),
        interfaces: (network?.interfaces ?? []).map((nic) => ({ ...nic, addresses: [...nic.addresses] })),
        routes: [...(network?.routes ?? [])],
      },
      { timeoutMs: config.agent.request_timeout_ms },
    );
  }
}

function watchLoss(qemu: ControlledVm, daemon: RunningDaemon, connection: AgentConnection): Promise<string> {
  return Promise.race([
    qemu.gone,
    daemon.exited,
    connection.client.closed.then((why) => `the agent connection closed: ${why}`),
  ]);
}

export async function startSandboxVm(options: SandboxVmOptions): Promise<SandboxVm> {
  checkInputs(options);
  const bringup = new Bringup(options);
  let connection: AgentConnection;
  let qemu: ControlledVm;
  let daemon: RunningDaemon;
  try {
    bringup.prepareDirs();
    await bringup.mountShares();
    daemon = await bringup.daemon();
    const exported = await bringup.exportAll(daemon);
    options.clock.mark('daemonReady');
    const network = await bringup.network();
    qemu = await bringup.vm(exported, network);
    options.clock.mark('qemuSpawned');
    connection = await bringup.agent(qemu, daemon);
    options.clock.mark('agentReady');
    await bringup.createSandbox(connection.agent, network);
    options.clock.mark('sandboxCreated');
  } catch (err) {
    await bringup.undo.runAll();
    throw SandboxError.wrap(err, `start sandbox ${options.sandboxId}`);
  }
  const volumes = new VolumeHotplug({
    state: options.state,
    layout: options.layout,
    control: daemon.control,
    vm: qemu,
    agent: connection.agent,
    slots: hotplugSlots(options.config.hypervisor),
    cache: options.config.daemon.cache,
    requestTimeoutMs: options.config.agent.request_timeout_ms,
    log: options.log,
  });
  return runningSandbox(options, bringup.undo, connection, volumes, watchLoss(qemu, daemon, connection));
}

function runningSandbox(
  options: SandboxVmOptions,
  undo: UndoStack,
  connection: AgentConnection,
  volumes: VolumeHotplug,
  gone: Promise<string>,
): SandboxVm {
  let stopping: Promise<void> | undefined;
  let lostReason: string | undefined;
  const stop = (destroy: boolean): Promise<void> => {
    stopping ??= (async () => {
      if (destroy) {
        await connection.agent.destroySandbox({}, { timeoutMs: DESTROY_TIMEOUT_MS }).catch((err: unknown) => {
          options.log.warn({ err: errorMessage(err) }, 'DestroySandbox failed: stopping the VM anyway');
        });
      }
      const failures = await undo.runAll();
      if (failures.length > 0)
        throw new SandboxError('host-failure', `sandbox teardown: ${failures.map((f) => f.message).join('; ')}`);
      options.log.info('sandbox stopped');
    })();
    return stopping;
  };
  const lost = gone.then((why) => {
    if (stopping === undefined) {
      lostReason = why;
      options.log.error(
        { reason: why, console: options.layout.consoleLog },
        'sandbox VM lost: its tasks exit with status 255',
      );
      // Each failed step is logged by the undo stack; the tasks' exits do not wait for it.
      stop(false).catch((err: unknown) =>
        options.log.error({ err: errorMessage(err) }, 'teardown of the lost sandbox failed'),
      );
    }
    return why;
  });
  const { state, layout } = options;
  return {
    agent: connection.agent,
    lost,
    isLost: () => lostReason !== undefined,
    bindContainerDirs: (containerId, dirs) => bindContainerDirs(state, layout, containerId, dirs),
    releaseContainerDirs: (containerId, dirs) => releaseContainerDirs(state, layout, containerId, dirs),
    volumes,
    stop: () => stop(true),
  };
}
