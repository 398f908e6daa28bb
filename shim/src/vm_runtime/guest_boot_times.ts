// The guest's side of the cold-start timings (phase_clock.ts), in seconds of guest uptime
// (CLOCK_BOOTTIME): /init's console markers (agent/image/init.sh) and the agent's own start and
// ready times from GetGuestDetails. Uptimes need no guest wall clock, which under TCG may be a
// second off the host's: the benchmark anchors them at the host's agent-ready time.

import { markerUptime } from '@vfs/contracts';
import { readConsole } from '../vm/console_log';
import type { AgentClient } from './agent_dial';

const DETAILS_TIMEOUT_MS = 2000;
const NS_PER_S = 1e9;

export interface GuestBootTimes {
  /** `vfs-init: start <uptime>`: /init began. */
  readonly initStartS?: number;
  /** `vfs-init: agent <port> <uptime>`: /init launched node with the agent. */
  readonly agentLaunchS?: number;
  readonly agentStartedS?: number;
  readonly agentReadyS?: number;
}

export function consoleBootTimes(console: string): GuestBootTimes {
  return {
    initStartS: markerUptime(console, 'start'),
    agentLaunchS: markerUptime(console, 'agent'),
  };
}

/** An agent without GetGuestDetails (or a dead one) leaves the agent's times out. */
async function agentBootTimes(agent: AgentClient): Promise<GuestBootTimes> {
  try {
    const details = await agent.getGuestDetails({}, { timeoutMs: DETAILS_TIMEOUT_MS });
    if (details.agentReadyNs === 0) return {};
    return { agentStartedS: details.agentStartedNs / NS_PER_S, agentReadyS: details.agentReadyNs / NS_PER_S };
  } catch {
    return {};
  }
}

export async function guestBootTimes(agent: AgentClient, consoleLog: string): Promise<GuestBootTimes> {
  const marks = consoleBootTimes(readConsole(consoleLog));
  // No /init start in this sandbox's console: the VM booted elsewhere (the warm pool), its agent's
  // times are not this run's, and the round trip would hold up the teardown that waits for it.
  if (marks.initStartS === undefined) return marks;
  return { ...marks, ...(await agentBootTimes(agent)) };
}
