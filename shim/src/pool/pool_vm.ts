// One warm-pool VM: booted with the same steps a shim takes (vm_bringup.ts) — the runtime share
// and the two empty container shares exported, QEMU up, the agent serving, the container shares
// mounted in the guest (what every sandbox's CreateSandbox does first) — under the pool's own
// paths (<run>/pool/<id>) and its own state (pids, mount journal). Handing it over closes the
// pool's QMP and daemon control connections (each takes one client at a time), passes its agent
// connection on to the adopter (agent_handover.ts), and disowns its undo steps: from then on the
// adopting shim stops it and removes its files.

import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { type AgentConnectionRef, errorMessage, type PooledVm } from '@vfs/contracts';
import type { LoadedConfig } from '@vfs/runtime-config';
import { removeUnmountedTree } from '../host_mounts';
import type { ShimLogger } from '../logger';
import { SandboxError } from '../sandbox_error';
import { DAEMON_RECORD, SandboxState } from '../sandbox_state';
import { PhaseClock } from '../vm_runtime/phase_clock';
import { poolVmLayout } from '../vm_runtime/sandbox_layout';
import type { AgentClient } from '../vm_runtime/agent_dial';
import { holdAgentConnection } from '../vm_runtime/agent_handover';
import { guestShareMounts } from '../vm_runtime/share_plan';
import { Bringup, checkInputs } from '../vm_runtime/vm_bringup';
import { boundWarmUpPlace, warmUpVm } from './warm_up';

export interface PoolVmBoot {
  readonly config: LoadedConfig['config'];
  readonly runDir: string;
  readonly fingerprint: string;
  readonly log: ShimLogger;
}

/** A booted pool VM, as the pool holds it until a shim takes it or the pool stops. */
export interface PoolVmHandle {
  readonly id: string;
  readonly qemuPid: number;
  /** Resolves with why, when QEMU, the daemon or the agent connection goes before the hand-over. */
  readonly lost: Promise<string>;
  /** Lets go of it: what a shim needs to adopt it. Call once. */
  handOver(): PooledVm;
  /** Stops it and removes its files (pool stop, a lost VM). */
  discard(): Promise<void>;
}

/** The shares every sandbox mounts first, mounted ahead: the adopter's CreateSandbox skips them. */
async function mountContainerShares(agent: AgentClient, config: LoadedConfig['config'], waitMs: number): Promise<void> {
  for (const share of guestShareMounts(config.daemon)) {
    await agent.mountShare({ share, waitMs }, { timeoutMs: config.agent.request_timeout_ms + waitMs });
  }
}

export function newPoolVmId(): string {
  return randomBytes(6).toString('hex');
}

/** The agent connection kept for the adopter, or undefined (it connects anew: the old way, and racier). */
function holdForAdopter(socket: Socket, log: ShimLogger): AgentConnectionRef | undefined {
  try {
    return holdAgentConnection(socket);
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'cannot keep the agent connection for the adopter: it connects anew');
    return undefined;
  }
}

function pidOf(state: SandboxState, name: string) {
  const record = state.pid(name);
  if (record === undefined) throw new SandboxError('host-failure', `pool VM: no ${name} was recorded`);
  return { pid: record.pid, startTime: record.startTime };
}

export async function bootPoolVm(boot: PoolVmBoot, id: string): Promise<PoolVmHandle> {
  const started = Date.now();
  const layout = poolVmLayout(boot.runDir, id);
  const state = new SandboxState(layout.stateDir);
  const log = boot.log.child({ poolVm: id });
  const clock = new PhaseClock(id, undefined, '');
  const options = { sandboxId: `pool-${id}`, config: boot.config, state, layout, log, clock };
  checkInputs(options);
  const bringup = new Bringup(options);
  const { undo } = bringup;
  undo.push('remove the pool VM dir', () => removeUnmountedTree(layout.stateDir));
  try {
    state.create();
    bringup.prepareDirs();
    await bringup.mountShares();
    const { daemon, qemu, connection, shareWaitMs } = await bringup.up();
    await mountContainerShares(connection.agent, boot.config, shareWaitMs);
    // The guest's first container costs it far more than the next (code run for the first time,
    // and under TCG translated for the first time): a throwaway one pays that here, before any
    // sandbox can take the VM (ARCHITECTURE.md, "The warm pool").
    const warmUpStarted = Date.now();
    const warmed = await warmUpVm(
      connection.agent,
      boundWarmUpPlace(state, layout),
      boot.config.agent.request_timeout_ms,
    );
    const bootMs = Date.now() - started;
    log.info(
      { bootMs, warmUpMs: Date.now() - warmUpStarted, warmUpContainer: warmed.containerId, qemuPid: qemu.pid },
      'pool VM ready',
    );
    let handedOver = false;
    const lost = Promise.race([
      qemu.gone,
      daemon.exited,
      connection.client.closed.then((why) => `the agent connection closed: ${why}`),
    ]).then((why) => (handedOver ? new Promise<string>(() => undefined) : why));
    const descriptor: PooledVm = {
      id,
      fingerprint: boot.fingerprint,
      qemu: pidOf(state, 'qemu'),
      daemon: pidOf(state, DAEMON_RECORD),
      paths: layout,
      mounts: state.mounts().map((m) => m.target),
      bootMs,
    };
    return {
      id,
      qemuPid: qemu.pid,
      lost,
      handOver: () => {
        handedOver = true;
        // Held until now: an agent without a host reopens its port every 100 ms once its first
        // fast polls are over, which costs a TCG guest ≈ 12 % of a host core (1 % with a host).
        // The connection itself goes on to the adopter (agent_handover.ts).
        const agentConnection = holdForAdopter(connection.socket, log);
        connection.client.close();
        qemu.release();
        daemon.control.close();
        undo.disown();
        return agentConnection === undefined ? descriptor : { ...descriptor, agentConnection };
      },
      discard: async () => {
        const failures = await undo.runAll();
        if (failures.length > 0)
          throw new SandboxError('host-failure', `pool VM ${id}: ${failures.map((f) => f.message).join('; ')}`);
      },
    };
  } catch (err) {
    await undo.runAll();
    throw err;
  }
}
