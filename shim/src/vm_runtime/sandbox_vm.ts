// The running infrastructure of one sandbox: vfs-virtiofsd, QEMU and the agent connection, with
// the host bind mounts behind the shares. The VM comes from the warm pool when one serves this
// configuration (adopt_vm.ts), else it boots here (vm_bringup.ts). Bring-up is all or nothing:
// every step registers its undo, and a failure runs them in reverse, so a failed Create leaves no
// process, mount, socket or directory behind. Afterwards the VM is watched: QEMU, the daemon or
// the agent connection going away marks the sandbox lost (`lost` resolves with why) and tears it
// down, which fails every pending agent call — processes then report LOST_STATUS (guest_process.ts).

import { randomBytes } from 'node:crypto';
import { errorMessage } from '@vfs/contracts';
import { SandboxError } from '../sandbox_error';
import type { PodNetwork } from '../pod_network/pod_network';
import type { AgentClient, AgentConnection } from './agent_dial';
import { adoptPooledVm, POOLED_GUEST, takePooledVm } from './adopt_vm';
import { bindContainerDirs, releaseContainerDirs } from './container_dirs';
import type { SandboxLayout } from './sandbox_layout';
import { RootPortPool } from '../vm/fs_hotplug';
import { nativePcieHotplug } from '../vm/qemu_command';
import { type ContainerDir, guestShareMounts } from './share_plan';
import type { UndoStack } from './undo_stack';
import { Bringup, checkInputs, hotplugNetwork, type VmBringupOptions, vmDiagnostics } from './vm_bringup';
import type { ControlledVm } from './vm_control';
import { hotplugSlots } from './vm_launch';
import { VolumeHotplug, type Volumes } from './volume_hotplug';
import type { RunningDaemon } from './virtiofsd_process';
import { SandboxCgroup } from './sandbox_cgroup';
import type { ShimSpec } from '../oci_spec';

const DESTROY_TIMEOUT_MS = 5000;

export interface SandboxVmOptions extends VmBringupOptions {
  readonly hostname: string;
  /** The sandbox's first container's spec: its linux.cgroupsPath is the VM's host cgroup. */
  readonly spec: ShimSpec;
  /** The warm pool's socket: a VM is taken from it when it has one for this configuration. */
  readonly poolSocket?: string;
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
  /**
   * QEMU, the daemon, the mounts, the sockets; idempotent. DestroySandbox first only when the guest
   * still runs containers: with none left, nothing in a guest about to stop needs undoing (saves a
   * guest round trip, ≈ 0.1 s under TCG, on the path `ctr run --rm` waits for). QEMU and the daemon
   * are then SIGKILLed together: the guest is untrusted and its state discarded, so a clean exit of
   * either buys nothing (QMP `quit` then SIGTERM cost 50–120 ms in series).
   */
  stop(guestHasContainers: boolean): Promise<void>;
}

/**
 * Bytes for the guest's entropy pool at CreateSandbox: a VM resumed from a template (or any VM
 * handed on) must not share its random generator's state with another.
 */
const GUEST_ENTROPY_BYTES = 64;

/** A VM up to a serving agent, booted here or adopted, with the steps that undo it. */
export interface LiveVm {
  readonly layout: SandboxLayout;
  readonly undo: UndoStack;
  readonly daemon: RunningDaemon;
  readonly qemu: ControlledVm;
  readonly connection: AgentConnection;
  readonly network: PodNetwork | undefined;
  /** Whether the guest already has the container shares mounted (a pooled VM mounts them at boot). */
  readonly sharesMounted: boolean;
  /** How long the guest may wait for the shares' tags when it mounts them (hot-plugged ones: vm_bringup.ts). */
  readonly shareWaitMs: number;
  /** The VM's free hotplug root ports, shared by the NICs plugged at adoption and the volumes. */
  readonly ports: RootPortPool;
  /** CreateSandbox, when the adoption made it already (its first call: adopt_vm.ts). */
  readonly sandboxCreated?: Promise<void>;
}

async function bootHere(options: SandboxVmOptions): Promise<LiveVm> {
  checkInputs(options);
  const bringup = new Bringup(options);
  try {
    bringup.prepareDirs();
    await bringup.mountShares();
    const { daemon, qemu, network: booted, connection, shareWaitMs } = await bringup.up();
    const ports = new RootPortPool(hotplugSlots(options.config.hypervisor));
    // A VM resumed from a template came up without the pod's NICs.
    const network =
      booted ??
      (options.network === undefined
        ? undefined
        : await hotplugNetwork(options.network, qemu, ports, bringup.undo, options.log));
    return {
      layout: options.layout,
      undo: bringup.undo,
      daemon,
      qemu,
      connection,
      network,
      ports,
      sharesMounted: false,
      shareWaitMs,
    };
  } catch (err) {
    await bringup.undo.runAll();
    throw err;
  }
}

/** What CreateSandbox needs of the VM: which shares the guest still mounts, and the pod's NICs. */
type GuestSide = Pick<LiveVm, 'sharesMounted' | 'shareWaitMs' | 'network'>;

async function createSandbox(
  options: SandboxVmOptions,
  agent: AgentClient,
  live: GuestSide,
  timeoutMs = options.config.agent.request_timeout_ms,
): Promise<void> {
  const { sandboxId, hostname, config } = options;
  const shareWaitMs = live.sharesMounted ? 0 : live.shareWaitMs;
  await agent.createSandbox(
    {
      sandboxId,
      hostname,
      shares: live.sharesMounted ? [] : guestShareMounts(config.daemon),
      shareWaitMs,
      interfaces: (live.network?.interfaces ?? []).map((nic) => ({ ...nic, addresses: [...nic.addresses] })),
      routes: [...(live.network?.routes ?? [])],
      // A VM resumed from a template (here or by the pool) has the template's clock and generator
      // state; a booted one gets the host's time too (a guest has no NTP) and a reseed it does not need.
      hostTimeMs: Date.now(),
      entropy: randomBytes(GUEST_ENTROPY_BYTES),
    },
    // The agent may wait that long for the shares' tags before its work begins.
    { timeoutMs: timeoutMs + shareWaitMs },
  );
}

/** A pooled VM when the pool has one for this configuration, else one booted here. */
async function liveVm(options: SandboxVmOptions): Promise<LiveVm> {
  const pooled = options.poolSocket === undefined ? undefined : await takePooledVm(options, options.poolSocket);
  if (pooled !== undefined) {
    // With no NICs to plug first, CreateSandbox is the first call to the pooled VM's agent.
    const first =
      options.network === undefined
        ? (agent: AgentClient, timeoutMs: number) =>
            createSandbox(options, agent, { ...POOLED_GUEST, network: undefined }, timeoutMs)
        : undefined;
    try {
      return await adoptPooledVm(options, pooled, first);
    } catch (err) {
      // Adoption undid itself (the pooled VM is stopped and gone): a VM of our own still serves.
      options.log.warn({ poolVm: pooled.vm.id, err: errorMessage(err) }, 'adopting the pooled VM failed: booting one');
    }
  }
  return bootHere(options);
}

function watchLoss(qemu: ControlledVm, daemon: RunningDaemon, connection: AgentConnection): Promise<string> {
  return Promise.race([
    qemu.gone,
    daemon.exited,
    connection.client.closed.then((why) => `the agent connection closed: ${why}`),
  ]);
}

export async function startSandboxVm(options: SandboxVmOptions): Promise<SandboxVm> {
  let cgroup: SandboxCgroup | undefined;
  let live: LiveVm;
  try {
    cgroup = options.config.runtime.sandbox_cgroup_only ? SandboxCgroup.enter(options.spec, options.log) : undefined;
    if (cgroup !== undefined) options.state.recordCgroups(cgroup.made);
    live = await liveVm(options);
  } catch (err) {
    await cgroup?.leave();
    throw SandboxError.wrap(err, `start sandbox ${options.sandboxId}`);
  }
  const { undo, daemon, qemu, connection, layout } = live;
  try {
    // A pooled VM's processes were started in the pool's cgroup.
    cgroup?.adopt(options.state.pids());
    const started = performance.now();
    await (live.sandboxCreated ?? createSandbox(options, connection.agent, live));
    options.clock.mark('sandboxCreated');
    options.log.debug(
      { ms: Math.round(performance.now() - started), firstCall: live.sandboxCreated !== undefined },
      'sandbox created in the guest',
    );
  } catch (err) {
    // Gathered before the undo steps remove the state dir.
    const why = await vmDiagnostics(qemu, layout);
    await undo.runAll();
    await cgroup?.leave();
    throw SandboxError.wrap(err, `start sandbox ${options.sandboxId} (${why})`);
  }
  const volumes = new VolumeHotplug({
    state: options.state,
    layout,
    control: daemon.control,
    vm: qemu,
    agent: connection.agent,
    ports: live.ports,
    cache: options.config.daemon.cache,
    posixAcl: options.config.daemon.posix_acl,
    requestTimeoutMs: options.config.agent.request_timeout_ms,
    nativePcieHotplug: nativePcieHotplug(options.config.hypervisor.machine),
    log: options.log,
  });
  return runningSandbox(options, live, volumes, watchLoss(qemu, daemon, connection), cgroup);
}

function runningSandbox(
  options: SandboxVmOptions,
  live: LiveVm,
  volumes: VolumeHotplug,
  gone: Promise<string>,
  cgroup: SandboxCgroup | undefined,
): SandboxVm {
  const { undo, connection, layout, qemu, daemon } = live;
  let stopping: Promise<void> | undefined;
  let lostReason: string | undefined;
  const stop = (destroy: boolean): Promise<void> => {
    stopping ??= (async () => {
      if (destroy) {
        await connection.agent.destroySandbox({}, { timeoutMs: DESTROY_TIMEOUT_MS }).catch((err: unknown) => {
          options.log.warn({ err: errorMessage(err) }, 'DestroySandbox failed: stopping the VM anyway');
        });
      }
      // Before the undo steps, which then find both gone (their graceful stops are for a failed bring-up).
      const killed = performance.now();
      await Promise.all([qemu.kill(), daemon.kill()]);
      options.log.debug({ ms: Math.round(performance.now() - killed) }, 'QEMU and the daemon killed');
      const failures = await undo.runAll();
      await cgroup?.leave();
      if (failures.length > 0)
        throw new SandboxError('host-failure', `sandbox teardown: ${failures.map((f) => f.message).join('; ')}`);
      options.log.info('sandbox stopped');
    })();
    return stopping;
  };
  const lost = gone.then((why) => {
    if (stopping === undefined) {
      lostReason = why;
      options.log.error({ reason: why, console: layout.consoleLog }, 'sandbox VM lost: its tasks exit with status 255');
      // Each failed step is logged by the undo stack; the tasks' exits do not wait for it.
      stop(false).catch((err: unknown) =>
        options.log.error({ err: errorMessage(err) }, 'teardown of the lost sandbox failed'),
      );
    }
    return why;
  });
  const { state } = options;
  return {
    agent: connection.agent,
    lost,
    isLost: () => lostReason !== undefined,
    bindContainerDirs: (containerId, dirs) => bindContainerDirs(state, layout, containerId, dirs),
    releaseContainerDirs: (containerId, dirs) => releaseContainerDirs(state, layout, containerId, dirs),
    volumes,
    stop: (guestHasContainers) => stop(guestHasContainers),
  };
}
