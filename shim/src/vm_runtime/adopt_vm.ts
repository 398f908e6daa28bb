// A VM from the warm pool (vfs-runtime pool serve): booted ahead of any sandbox, with its daemon
// and a serving agent, and no container. The pool forgets it once it answers `take`; from then on
// this shim owns it, as if it had booted it:
// - its processes are recorded in the sandbox's state (by pid and start time) and watched by
//   pidfd, since this shim is not their parent;
// - the pool's host mounts move into the sandbox's mount journal, and its paths into the state dir
//   (adopted-vm.json), so a container's teardown, and `delete` after a crash, undo them;
// - the shim connects QMP, the daemon's control socket and the agent afresh, then hot-plugs what
//   is the sandbox's own: the pod's network (its containers' directories bind into the shares
//   as on a VM booted here).
// With no pool, an empty one, or one booted with another configuration, Create boots its own VM.

import { existsSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { errorMessage, type PooledVm, PoolClient, type ProcessIdentity } from '@vfs/contracts';
import { removeUnmountedTree, unmountAll } from '../host_mounts';
import type { ShimLogger } from '../logger';
import { RootPortPool } from '../vm/fs_hotplug';
import { poolFingerprint } from '../pool/pool_fingerprint';
import { SandboxError } from '../sandbox_error';
import { within } from '../within';
import { DAEMON_RECORD, type SandboxState } from '../sandbox_state';
import { fileTailOrError } from '../vm/console_log';
import { watchPid, type PidWatch } from '../vm/pidfd_watch';
import type { QemuExit } from '../vm/qemu_exit';
import type { RunningQemu } from '../vm/qemu_process';
import { type AgentClient, dialAgent, dialWithFirstCall } from './agent_dial';
import { takeAgentConnection } from './agent_handover';
import { type SandboxLayout, saveAdoptedLayout } from './sandbox_layout';
import type { LiveVm, SandboxVmOptions } from './sandbox_vm';
import { UndoStack } from './undo_stack';
import { consoleTail, hotplugNetwork, runtimeDir, SANDBOX_OWNER } from './vm_bringup';
import { hotplugSlots } from './vm_launch';
import { type ControlledVm, controlVm } from './vm_control';
import { connectControl, daemonKiller, daemonStopper, type RunningDaemon } from './virtiofsd_process';

const QEMU_STOP_GRACE_MS = 2000;
/**
 * The pool's agent connection closed just before: the agent reopens its port, and a Check that
 * arrives while it closes the old one is dropped by the guest kernel. A serving agent answers in
 * milliseconds, even under TCG, so one not answered soon was dropped: send another.
 */
const CHECK_RESEND_MS = 50;
/** Tells the pool (should it restart after a crash) that this VM has an owner. */
export const ADOPTED_MARKER = 'adopted-by';

/**
 * The pool answers from memory at once; one that does not is stuck, and Create boots its own VM. A
 * VM it hands out after that belongs to no one: unmarked, the next pool start stops it.
 */
const POOL_ANSWER_MS = 3000;

/** A VM from the pool, with the pool's agent connection when it could be taken over. */
export interface TakenVm {
  readonly vm: PooledVm;
  readonly agentSocket?: Socket;
}

/** The pool's agent connection, or undefined: the adoption then connects to QEMU's socket anew. */
function takeHeldConnection(vm: PooledVm, log: ShimLogger): Socket | undefined {
  if (vm.agentConnection === undefined) return undefined;
  try {
    return takeAgentConnection(vm.agentConnection);
  } catch (err) {
    log.warn({ poolVm: vm.id, err: errorMessage(err) }, "cannot take the pool's agent connection: connecting anew");
    return undefined;
  }
}

/** A VM from the pool for this sandbox, or undefined (no pool, none ready, another configuration). */
export async function takePooledVm(options: SandboxVmOptions, socket: string): Promise<TakenVm | undefined> {
  const { log, config, sandboxId } = options;
  if (!existsSync(socket)) return undefined;
  let client: PoolClient | undefined;
  try {
    client = await PoolClient.connect(socket);
    const taken = await within(
      client.take(poolFingerprint(config, runtimeDir()), sandboxId),
      POOL_ANSWER_MS,
      `the pool did not answer within ${POOL_ANSWER_MS} ms`,
    );
    if (taken.vm === undefined) {
      log.info({ reason: taken.reason }, 'warm pool has no VM for this sandbox: booting one');
      return undefined;
    }
    const agentSocket = takeHeldConnection(taken.vm, log);
    log.info(
      {
        poolVm: taken.vm.id,
        bootMs: taken.vm.bootMs,
        agentConnection: agentSocket === undefined ? 'new' : 'handed over',
      },
      'took a VM from the warm pool',
    );
    return { vm: taken.vm, agentSocket };
  } catch (err) {
    log.warn({ err: errorMessage(err), socket }, 'warm pool unreachable: booting a VM');
    return undefined;
  } finally {
    client?.close();
  }
}

/** Records a handed-over process under `name`, refusing one whose pid now belongs to another. */
function recordProcess(state: SandboxState, name: string, proc: ProcessIdentity): void {
  const record = state.recordPid(name, proc.pid);
  if (record.startTime !== proc.startTime) {
    state.forgetPid(name);
    throw new SandboxError('host-failure', `pooled ${name} (pid ${proc.pid}) is gone: the pid is another process now`);
  }
}

function adoptedQemu(watch: PidWatch, stderrPath: string): RunningQemu {
  const exited: Promise<QemuExit> = watch.exited.then(() => ({
    code: null,
    signal: null,
    stderrTail: fileTailOrError(stderrPath, 20),
  }));
  const stop = async (graceMs = QEMU_STOP_GRACE_MS): Promise<QemuExit> => {
    watch.kill('SIGTERM');
    const timer = setTimeout(() => watch.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { pid: watch.pid, exited, stop, kill: () => watch.kill('SIGKILL') };
}

async function adoptedDaemon(watch: PidWatch, vm: PooledVm): Promise<RunningDaemon> {
  const exited = watch.exited.then(() => `vfs-virtiofsd exited: ${fileTailOrError(vm.paths.daemonStderr, 10)}`);
  const control = await connectControl(vm.paths.controlSocket, exited);
  return {
    pid: watch.pid,
    control,
    exited,
    stop: daemonStopper(watch.pid, exited),
    kill: daemonKiller(watch.pid, exited),
  };
}

class Adoption {
  readonly undo: UndoStack;
  readonly layout: SandboxLayout;

  constructor(
    private readonly options: SandboxVmOptions,
    private readonly vm: PooledVm,
  ) {
    this.undo = new UndoStack(options.log);
    this.layout = vm.paths;
  }

  /** The pool's files and mounts become the sandbox's, before anything can fail. */
  takeFiles(): void {
    const { state } = this.options;
    const { layout, vm } = this;
    saveAdoptedLayout(state.dir, layout);
    writeFileSync(join(vm.paths.stateDir, ADOPTED_MARKER), `${state.dir}\n`);
    this.undo.push('remove the socket dir', () => removeUnmountedTree(layout.socketDir));
    this.undo.push('remove the pool VM dir', () => removeUnmountedTree(layout.stateDir));
    for (const target of vm.mounts) state.journalMount({ target, containerId: SANDBOX_OWNER });
    this.undo.push('unmount the shares', () => unmountAll(state));
  }

  /** Watches a handed-over process (refusing a recycled pid) and records it; the undo stops it. */
  private watch(name: string, proc: ProcessIdentity, stop: (watch: PidWatch) => Promise<void>): PidWatch {
    const { state } = this.options;
    const watch = watchPid(proc.pid, proc.startTime);
    this.undo.push(`stop ${name}`, async () => {
      await stop(watch);
      watch.close();
      state.forgetPid(name);
    });
    recordProcess(state, name, proc);
    return watch;
  }

  async daemon(): Promise<RunningDaemon> {
    let daemon: RunningDaemon | undefined;
    const watch = this.watch(DAEMON_RECORD, this.vm.daemon, async (w) => {
      daemon?.control.close();
      await (daemon?.stop() ?? daemonStopper(w.pid, w.exited)());
    });
    daemon = await adoptedDaemon(watch, this.vm);
    return daemon;
  }

  async qemu(): Promise<ControlledVm> {
    let controlled: ControlledVm | undefined;
    let qemu: RunningQemu | undefined;
    const watch = this.watch('qemu', this.vm.qemu, async () => {
      await (controlled?.stop(QEMU_STOP_GRACE_MS) ?? qemu?.stop());
    });
    qemu = adoptedQemu(watch, this.vm.paths.qemuStderr);
    controlled = await controlVm(qemu, this.vm.paths.qmpSocket, this.options.log);
    return controlled;
  }
}

/** What a pooled VM's guest has already: the container shares, mounted before it was handed out. */
export const POOLED_GUEST = { sharesMounted: true, shareWaitMs: 0 } as const;

/** The sandbox's first call to its agent, made with the timeout given. */
export type FirstCall = (agent: AgentClient, timeoutMs: number) => Promise<void>;

/**
 * Takes charge of a pooled VM; a failure stops it and removes its files, as a failed boot would.
 * `createSandbox`, when given, is the first call on a handed-over connection instead of Check
 * (dialWithFirstCall; LiveVm.sandboxCreated): it must need nothing the adoption makes (a pod's NICs).
 */
export async function adoptPooledVm(
  options: SandboxVmOptions,
  taken: TakenVm,
  createSandbox?: FirstCall,
): Promise<LiveVm> {
  const { clock, config, log } = options;
  const { vm, agentSocket } = taken;
  const adoption = new Adoption(options, vm);
  const { undo, layout } = adoption;
  if (agentSocket !== undefined)
    undo.push('close the handed-over agent connection', async () => {
      agentSocket.destroy();
    });
  try {
    adoption.takeFiles();
    const daemon = await adoption.daemon();
    clock.mark('daemonReady');
    const qemu = await adoption.qemu();
    clock.mark('qemuSpawned');
    const dial = {
      socketPath: layout.agentSocket,
      timeoutMs: config.agent.dial_timeout_ms,
      vmGone: Promise.race([qemu.gone, daemon.exited]),
      log,
      resendEveryMs: CHECK_RESEND_MS,
    };
    const { connection, first } = await (agentSocket !== undefined && createSandbox !== undefined
      ? dialWithFirstCall({ ...dial, handedOver: agentSocket }, createSandbox)
      : dialAgent({ ...dial, handedOver: agentSocket }).then((c) => ({ connection: c, first: undefined }))
    ).catch((err: unknown) => {
      throw SandboxError.wrap(err, `pooled VM ${vm.id} (console ${layout.consoleLog}):\n${consoleTail(layout)}\n`);
    });
    undo.push('close the agent connection', async () => connection.client.close());
    clock.mark('agentReady');
    const ports = new RootPortPool(hotplugSlots(config.hypervisor));
    const network =
      options.network === undefined ? undefined : await hotplugNetwork(options.network, qemu, ports, undo, log);
    log.info({ poolVm: vm.id, qemuPid: vm.qemu.pid }, 'adopted the pooled VM');
    return {
      layout,
      undo,
      daemon,
      qemu,
      connection,
      network,
      ports,
      ...POOLED_GUEST,
      ...(first === undefined ? {} : { sandboxCreated: first }),
    };
  } catch (err) {
    await undo.runAll();
    throw err;
  }
}
