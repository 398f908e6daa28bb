// The steps that bring a sandbox's VM up, each registering its undo: the host dirs and binds, the
// daemon and its exports, the pod network's taps, QEMU and its QMP connection, the agent. A shim
// runs them for its sandbox (sandbox_vm.ts); the warm pool runs them ahead of any sandbox
// (pool/pool_vm.ts) and hands the result over. Where the guest boots without any share (q35 with
// the runtime as a file), the daemon and QEMU start side by side and the shares are hot-plugged
// once the daemon serves: the guest's boot no longer waits for the daemon's start.

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_RUNTIME_TAG, errorMessage } from '@vfs/contracts';
import { installRoot, type LoadedConfig, runtimeShareDir } from '@vfs/runtime-config';
import { cloneTemplate, type TemplateCopy } from '../template/template_clone';
import { fileTailOrError } from '../vm/console_log';
import { type RootPortPool, rootPortId } from '../vm/fs_hotplug';
import { removeUnmountedTree, tmpfsFor, unmount, unmountAll } from '../host_mounts';
import type { ShimLogger } from '../logger';
import { DAEMON_RECORD, type SandboxState } from '../sandbox_state';
import { SandboxError } from '../sandbox_error';
import { dockerNetns } from '../pod_network/docker_netns';
import { hotplugPodNetwork, type NetworkSource, setUpPodNetwork, type PodNetwork } from '../pod_network/pod_network';
import { dialAgent, type AgentConnection } from './agent_dial';
import { qemuStartError } from './dax_start_error';
import type { PhaseClock } from './phase_clock';
import { vhostUserSocket, type SandboxLayout } from './sandbox_layout';
import {
  bindShare,
  exportShare,
  makeSharesMountPoint,
  makeStagingMountPoint,
  type ExportedShare,
} from './share_exports';
import { containerShares, type SandboxShare } from './share_plan';
import { UndoStack } from './undo_stack';
import { controlVm, type ControlledVm } from './vm_control';
import { checkReadable, chooseAccel, hotplugSlots, runtimeFile, startVm } from './vm_launch';
import { startDaemon, type RunningDaemon } from './virtiofsd_process';

const QEMU_STOP_GRACE_MS = 2000;
/** The runtime share's mounts belong to the sandbox, not to a container. */
export const SANDBOX_OWNER = '';
/** What a sandbox keeps of its guest's serial console (the boot, the agent's log lines). */
export const CONSOLE_LOG_MAX_BYTES = 4 << 20;

export interface VmBringupOptions {
  /** The sandbox's id, or a pool VM's own until a sandbox takes it. */
  readonly sandboxId: string;
  readonly config: LoadedConfig['config'];
  readonly state: SandboxState;
  readonly layout: SandboxLayout;
  readonly log: ShimLogger;
  /** Cold-start milestones (bench-coldstart) of the bring-up: daemon, QEMU, agent. */
  readonly clock: PhaseClock;
  /** Where the pod's network is (pod_network.ts); none: the VM has no NIC. */
  readonly network?: NetworkSource;
}

/** build/runtime from `make runtime`, found like the kernel: under the install root. */
export function runtimeDir(): string {
  return runtimeShareDir(installRoot());
}

/** The QEMU device id of the VM's index-th boot share (its chardev is `<id>-chr`). */
function fsDeviceId(index: number): string {
  return `fs${index}`;
}

const RUNTIME_SHARE: SandboxShare = { tag: DEFAULT_RUNTIME_TAG, readonly: true, cache: 'always', xattr: false };

/** Every share the VM boots with: the runtime (unless it is a file), then the containers' two. */
function bootShares(options: VmBringupOptions): readonly SandboxShare[] {
  const runtime = runtimeFile(options.config) === undefined ? [RUNTIME_SHARE] : [];
  return [...runtime, ...containerShares(options.config.daemon)];
}

/**
 * Whether the boot shares are hot-plugged after QEMU started rather than given on its command line:
 * only when the guest needs no share to boot (the runtime is a file), on q35, whose ACPI hotplug adds
 * a device in ≈ 0.08 s under TCG (microvm cannot hotplug; microvm-pcie's native hotplug is slower),
 * and without DAX windows, whose 64-bit BARs would need room set aside on the root ports.
 */
export function plugsSharesLate(config: LoadedConfig['config']): boolean {
  return (
    config.hypervisor.machine === 'q35' &&
    runtimeFile(config) !== undefined &&
    containerShares(config.daemon).every((share) => share.daxWindowMib === undefined)
  );
}

/** What a VM's guest waits for before it mounts the boot shares: long enough for a hotplug on a loaded host. */
const LATE_SHARE_WAIT_MS = 15_000;
/** Loading a template's device state (≈ 0.4 MB) takes milliseconds; its RAM is already mapped. */
const TEMPLATE_LOAD_TIMEOUT_MS = 30_000;
/**
 * A Check to a resumed agent is sent again until one is answered, should the guest drop one while
 * it settles after the resume (agent_dial.ts resendEveryMs; none was seen since the shim connects
 * before the load).
 */
const TEMPLATE_CHECK_RESEND_MS = 50;

/** A VM up to a serving agent, with the daemon serving its boot shares. */
export interface VmUp {
  readonly daemon: RunningDaemon;
  readonly qemu: ControlledVm;
  readonly network: PodNetwork | undefined;
  readonly connection: AgentConnection;
  /** How long the guest may have to wait for a boot share's tag: 0 when QEMU started with them. */
  readonly shareWaitMs: number;
}

export function checkInputs(options: VmBringupOptions): void {
  const { hypervisor, daemon } = options.config;
  checkReadable(hypervisor.kernel, 'hypervisor.kernel');
  checkReadable(hypervisor.initramfs, 'hypervisor.initramfs');
  checkReadable(daemon.path, 'daemon.path');
  const file = runtimeFile(options.config);
  if (file !== undefined) {
    checkReadable(file.path, 'the guest runtime image (make runtime; or [agent] runtime = "share")');
    return;
  }
  checkReadable(join(runtimeDir(), 'agent.js'), 'the guest runtime share (make runtime)');
  checkReadable(join(runtimeDir(), 'node'), 'the guest runtime share (make runtime)');
}

export function consoleTail(layout: SandboxLayout): string {
  return fileTailOrError(layout.consoleLog, 15);
}

/**
 * What tells why a guest did not answer: QEMU's status (no answer: its main loop is stuck), the
 * guest console's and the daemon's last lines.
 */
export async function vmDiagnostics(qemu: ControlledVm, layout: SandboxLayout): Promise<string> {
  const status = await qemu.queryStatus().then(
    (s) => s.status,
    (e: unknown) => `unknown (${errorMessage(e)})`,
  );
  return (
    `QEMU status ${status}; console ${layout.consoleLog}, last lines:\n${consoleTail(layout)}\n` +
    `vfs-virtiofsd's last lines:\n${fileTailOrError(layout.daemonStderr, 10)}\n`
  );
}

/** The pod's netns: the one the spec names, or one the shim makes for dockerd to fill (deleted last). */
export async function podNetnsPath(source: NetworkSource, undo: UndoStack): Promise<string> {
  if (source.kind === 'netns') return source.path;
  const netns = await dockerNetns(source.hook, source.containerId, source.bundle);
  undo.push('delete the docker container netns', () => netns.remove());
  return netns.path;
}

/**
 * The pod's network hot-plugged into a running VM (a pooled or resumed one, which has no NIC): its
 * taps made by QEMU, moved into the pod's netns. QEMU stops before the taps go: a guest asked to
 * release a NIC takes pciehp's 5 s; a stopped VM has none.
 */
export async function hotplugNetwork(
  source: NetworkSource,
  qemu: ControlledVm,
  ports: RootPortPool,
  undo: UndoStack,
  log: ShimLogger,
): Promise<PodNetwork> {
  const network = await hotplugPodNetwork(await podNetnsPath(source, undo), qemu, ports, log);
  undo.push('remove the pod network', async () => {
    await qemu.stop(QEMU_STOP_GRACE_MS);
    await network.remove();
  });
  return network;
}

export class Bringup {
  readonly undo: UndoStack;

  constructor(private readonly options: VmBringupOptions) {
    this.undo = new UndoStack(options.log);
  }

  prepareDirs(): void {
    const { layout, state } = this.options;
    mkdirSync(layout.sharesDir, { recursive: true, mode: 0o700 });
    mkdirSync(layout.socketDir, { recursive: true, mode: 0o700 });
    this.undo.push('remove the socket dir', () => removeUnmountedTree(layout.socketDir));
    this.undo.push('remove the shares dir', () => removeUnmountedTree(layout.sharesDir));
    this.undo.push('remove the staging dir', () => removeUnmountedTree(layout.stagingDir));
    // QEMU writes what the guest sends its serial console to this file: on a tmpfs of its own, a
    // guest that floods it fills CONSOLE_LOG_MAX_BYTES, not the host's /run (QEMU drops a byte it
    // cannot write, after a few retries).
    const consoleDir = dirname(layout.consoleLog);
    mkdirSync(consoleDir, { recursive: true, mode: 0o700 });
    tmpfsFor(state, SANDBOX_OWNER, consoleDir, CONSOLE_LOG_MAX_BYTES);
    this.undo.push('unmount the console log', () => unmount(state, consoleDir));
  }

  /** The shared and staging mount points, the runtime share's bind (no runtime file), and the (empty) container shares. */
  async mountShares(): Promise<void> {
    const { state, layout } = this.options;
    this.undo.push('unmount the shares', () => unmountAll(state));
    await makeSharesMountPoint(state, layout.sharesDir, SANDBOX_OWNER);
    await makeStagingMountPoint(state, layout.stagingDir, SANDBOX_OWNER);
    if (runtimeFile(this.options.config) === undefined) {
      const runtime = {
        source: runtimeDir(),
        target: DEFAULT_RUNTIME_TAG,
        wrapsFile: false,
        recursive: false,
        readonly: true,
      };
      await bindShare(state, layout, SANDBOX_OWNER, runtime);
    }
    for (const share of containerShares(this.options.config.daemon)) {
      mkdirSync(join(layout.sharesDir, share.tag), { mode: 0o700 });
    }
  }

  private async daemon(): Promise<RunningDaemon> {
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
        state.recordPid(DAEMON_RECORD, pid);
        this.options.clock.mark('daemonSpawned');
      },
    );
    this.undo.push('stop vfs-virtiofsd', async () => {
      daemon.control.close();
      await daemon.stop();
      state.forgetPid(DAEMON_RECORD);
    });
    return daemon;
  }

  private async exportAll(daemon: RunningDaemon): Promise<ExportedShare[]> {
    const exported: ExportedShare[] = [];
    for (const [index, share] of bootShares(this.options).entries()) {
      exported.push(await exportShare(daemon.control, share, vhostUserSocket(this.options.layout, index)));
    }
    return exported;
  }

  /** The pod's interfaces mirrored to taps, removed after QEMU has let go of them. */
  private async network(): Promise<PodNetwork | undefined> {
    const { network: source, log } = this.options;
    if (source === undefined) return undefined;
    const network = await setUpPodNetwork(await podNetnsPath(source, this.undo), log);
    this.undo.push('remove the pod network taps', () => network.remove());
    return network;
  }

  /**
   * The daemon with the boot shares exported, the pod network, QEMU and the agent: in that order,
   * or, when the shares are plugged late, the daemon's start beside the other two, the shares
   * hot-plugged once it serves while the agent is dialled. Marks each milestone as it comes.
   */
  async up(): Promise<VmUp> {
    const { config, clock } = this.options;
    if (plugsSharesLate(config)) return this.upWithLateShares();
    const daemon = await this.daemon();
    const exported = await this.exportAll(daemon);
    clock.mark('daemonReady');
    const network = await this.network();
    const qemu = await this.vm(exported, network);
    clock.mark('qemuSpawned');
    const connection = await this.agent(qemu, daemon.exited);
    clock.mark('agentReady');
    return { daemon, qemu, network, connection, shareWaitMs: 0 };
  }

  /**
   * A copy of the VM template to resume instead of booting ([factory] enable_template), or none: no
   * template for this configuration. A template has no NIC: a pod's are hot-plugged after the resume.
   */
  private async templateCopy(): Promise<TemplateCopy | undefined> {
    const { config, log, sandboxId, clock, network } = this.options;
    if (!config.factory.enable_template) return undefined;
    if (network !== undefined && hotplugSlots(config.hypervisor) === 0) {
      log.info('VM template not used: the pod has a network, and with hotplug_slots = 0 no root port can take its NIC');
      return undefined;
    }
    const accel = await chooseAccel(config.hypervisor);
    clock.mark('templateCopyBegan');
    const choice = cloneTemplate(config, runtimeDir(), accel, sandboxId.replace(/[^A-Za-z0-9._-]/g, '_'));
    if (choice.copy === undefined) {
      log.info({ reason: choice.reason }, 'VM template not used: booting');
      return undefined;
    }
    const { copy } = choice;
    this.undo.push('release the template copy', async () => copy.release());
    clock.mark('templateCopied');
    log.debug({ memoryDataBytes: copy.memoryDataBytes }, 'VM template copied');
    return copy;
  }

  /**
   * Every step here waits for what it started before it throws: the undo steps must not run while a
   * process is still starting.
   */
  private async upWithLateShares(): Promise<VmUp> {
    const { config, clock, log } = this.options;
    const serving = this.daemon().then(async (daemon) => {
      const exported = await this.exportAll(daemon);
      clock.mark('daemonReady');
      return { daemon, exported };
    });
    serving.catch(() => undefined);
    let network: PodNetwork | undefined;
    let qemu: ControlledVm;
    let template: TemplateCopy | undefined;
    try {
      // Copied while the daemon starts.
      template = await this.templateCopy();
      network = template === undefined ? await this.network() : undefined;
      qemu = await this.vm([], network, containerShares(config.daemon).length, template);
    } catch (err) {
      await serving.then(undefined, (daemonErr: unknown) =>
        log.warn({ err: errorMessage(daemonErr) }, 'vfs-virtiofsd failed too'),
      );
      throw err;
    }
    let giveUp: (why: string) => void = () => undefined;
    const failed = new Promise<string>((resolve) => {
      giveUp = resolve;
    });
    const daemonGone = serving.then(
      ({ daemon }) => daemon.exited,
      (err: unknown) => `vfs-virtiofsd did not start: ${errorMessage(err)}`,
    );
    // A VM resumed from a template must find its host connected as the template left it: a host
    // that connects after the resume would first be told the template's host left, and the agent
    // would close the port under it. So the dial connects before the state is loaded.
    let connected: () => void = () => undefined;
    const hostConnected = new Promise<void>((resolve) => {
      connected = resolve;
    });
    const resendEveryMs = template === undefined ? undefined : TEMPLATE_CHECK_RESEND_MS;
    const dialing = this.agent(qemu, Promise.race([daemonGone, failed]), resendEveryMs, connected).then(
      (connection) => {
        clock.mark('agentReady');
        return connection;
      },
    );
    dialing.catch(() => undefined);
    try {
      if (template !== undefined) {
        // The dial fails rather than connect only if QEMU is gone, which the load then reports.
        await Promise.race([
          hostConnected,
          dialing.then(
            () => undefined,
            () => undefined,
          ),
        ]);
        await this.resume(qemu, template);
      }
      clock.mark('qemuSpawned');
      const { daemon, exported } = await serving;
      // QEMU stops before the daemon, as when it started after it: its step may have come first.
      this.undo.push('stop QEMU before the daemon', async () => {
        await qemu.stop(QEMU_STOP_GRACE_MS);
      });
      await this.plugShares(qemu, exported);
      clock.mark('sharesPlugged');
      return { daemon, qemu, network, connection: await dialing, shareWaitMs: LATE_SHARE_WAIT_MS };
    } catch (err) {
      // The dial fails with this reason, or has connected (its undo closes it).
      giveUp(errorMessage(err));
      await Promise.all([dialing.catch(() => undefined), serving.catch(() => undefined)]);
      throw err;
    }
  }

  /** The exported boot shares onto the root ports after the volumes' (vm_launch.ts). */
  private async plugShares(qemu: ControlledVm, exported: readonly ExportedShare[]): Promise<void> {
    const firstPort = hotplugSlots(this.options.config.hypervisor);
    for (const [index, share] of exported.entries()) {
      const device = {
        id: fsDeviceId(index),
        socketPath: share.socketPath,
        tag: share.tag,
        port: rootPortId(firstPort + index),
      };
      try {
        await qemu.addFsDevice(device);
      } catch (err) {
        throw SandboxError.wrap(err, `plug share ${share.tag} into the VM`);
      }
    }
  }

  /**
   * QEMU, and the QMP connection the sandbox keeps to it (vm_control.ts); on the template copy's
   * RAM, waiting for its state (`resume`), when there is one.
   */
  private async vm(
    exported: readonly ExportedShare[],
    network: PodNetwork | undefined,
    lateSharePorts = 0,
    template?: TemplateCopy,
  ): Promise<ControlledVm> {
    const { config, layout, state, sandboxId, log } = this.options;
    const devices = exported.map((share, index) => ({
      id: fsDeviceId(index),
      socketPath: share.socketPath,
      tag: share.tag,
      ...(share.daxWindowMib === undefined ? {} : { cacheSizeMiB: share.daxWindowMib }),
    }));
    const runtime = runtimeFile(config);
    const qemu = await startVm({
      sandboxId,
      hypervisor: config.hypervisor,
      layout,
      devices,
      network,
      lateSharePorts,
      ...(runtime === undefined ? {} : { runtimeFile: runtime }),
      ...(template === undefined ? {} : { memoryFd: template.memoryFd, incoming: true }),
    });
    state.recordPid('qemu', qemu.pid);
    let vm: ControlledVm | undefined;
    this.undo.push('stop QEMU', async () => {
      await (vm === undefined ? qemu.stop(QEMU_STOP_GRACE_MS) : vm.stop(QEMU_STOP_GRACE_MS));
      state.forgetPid('qemu');
    });
    vm = await controlVm(qemu, layout.qmpSocket, log).catch((err: unknown) => {
      const stderr = fileTailOrError(layout.qemuStderr, 20);
      throw qemuStartError({
        err,
        stderr,
        daxWindowMib: config.daemon.dax_window_mib,
        qemuPath: config.hypervisor.path,
      });
    });
    return vm;
  }

  /** Loads the template copy's state into the waiting QEMU and runs it. */
  private async resume(vm: ControlledVm, template: TemplateCopy): Promise<void> {
    try {
      await vm.loadState(template.state, TEMPLATE_LOAD_TIMEOUT_MS);
    } catch (err) {
      const stderr = fileTailOrError(this.options.layout.qemuStderr, 20);
      throw SandboxError.wrap(err, `resume the VM template (QEMU's stderr: ${stderr})`, 'host-failure');
    } finally {
      // QEMU holds the RAM (its own descriptor) and has read the state.
      template.release();
    }
  }

  /** `daemonGone` resolves with why, should the daemon go (or fail to come) first. */
  private async agent(
    qemu: ControlledVm,
    daemonGone: Promise<string>,
    resendEveryMs?: number,
    onConnected?: () => void,
  ): Promise<AgentConnection> {
    const { config, layout, log } = this.options;
    const vmGone = Promise.race([qemu.gone, daemonGone]);
    const connection = await dialAgent({
      socketPath: layout.agentSocket,
      timeoutMs: config.agent.dial_timeout_ms,
      vmGone,
      log,
      ...(resendEveryMs === undefined ? {} : { resendEveryMs }),
      ...(onConnected === undefined ? {} : { onConnected }),
    }).catch(async (err: unknown) => {
      throw SandboxError.wrap(err, `sandbox VM (${await vmDiagnostics(qemu, layout)})`);
    });
    this.undo.push('close the agent connection', async () => connection.client.close());
    return connection;
  }
}
