/** What the agent's handlers share: the containers, the mounted shares, output readers, OOM kills. */
import type { RuntimeOptions } from '../container/container';
import { ContainerRegistry } from '../container/container_registry';
import type { PlanStep } from '../container/launch_plan';
import type { SpareLauncher } from '../container/spare_launcher';
import type { AgentLogger } from './logger';
import { OomEvents } from './oom_events';
import { OutputRelays } from './output_relay';
import { ShareTable } from './share_table';

export interface AgentState {
  readonly log: AgentLogger;
  readonly registry: ContainerRegistry;
  readonly shares: ShareTable;
  readonly outputs: OutputRelays;
  readonly oom: OomEvents;
  /** vfs-launcher, for plans the handlers run themselves (volumes). */
  readonly launcherPath: string;
  /** The launchers started ahead, made up after a warm-up used them. */
  readonly spareLauncher: SpareLauncher | undefined;
  sandboxId: string | undefined;
  /**
   * The sandbox's set-up steps (clock, entropy, hostname) that CreateSandbox left to the first
   * container's launch, having no launch of its own (its shares were mounted already, as in a
   * pooled VM): a launch costs 15-30 ms under TCG. Made when taken, so the clock is the host's
   * then; cleared once a container created with them succeeds.
   */
  pendingSetup: (() => readonly PlanStep[]) | undefined;
}

export function agentState(log: AgentLogger, options: RuntimeOptions): AgentState {
  return {
    log,
    registry: new ContainerRegistry(options),
    shares: new ShareTable(options.launcherPath, { spare: options.spareLauncher }),
    outputs: new OutputRelays(log),
    oom: new OomEvents(log),
    launcherPath: options.launcherPath,
    spareLauncher: options.spareLauncher,
    sandboxId: undefined,
    pendingSetup: undefined,
  };
}
