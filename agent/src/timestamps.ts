/**
 * Start-up timestamps of the agent, for GetGuestDetails and cold-start measurements. The
 * process start comes from /proc/self/stat (clock ticks since boot, set at fork/exec), so the
 * interval covers Node's own start-up, which the agent's code cannot observe otherwise.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc/<pid>/stat times, 100 on every Linux ABI Node supports. */
const CLOCK_TICKS_PER_S = 100;

export interface AgentTimestamps {
  /** Seconds since guest boot (CLOCK_BOOTTIME, as /proc/uptime). 10 ms resolution. */
  readonly processStartUptimeS: number;
  readonly readyUptimeS: number;
  /** Wall clock, ms since the epoch. */
  readonly processStartWallMs: number;
  readonly readyWallMs: number;
  /** Started from the startup snapshot agent.blob rather than by compiling agent.js. */
  readonly fromSnapshot: boolean;
}

function uptimeSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

/** Field 22 of /proc/self/stat; fields are counted after the parenthesised command name. */
function processStartSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19]) / CLOCK_TICKS_PER_S;
}

let ready: AgentTimestamps | undefined;

/** Records the moment the agent is ready to serve; later calls return the first record. */
export function markReady(fromSnapshot: boolean): AgentTimestamps {
  if (ready !== undefined) return ready;
  const now = Date.now();
  const readyUptimeS = uptimeSeconds();
  const processStartUptimeS = processStartSeconds();
  ready = {
    processStartUptimeS,
    readyUptimeS,
    processStartWallMs: now - Math.round((readyUptimeS - processStartUptimeS) * 1000),
    readyWallMs: now,
    fromSnapshot,
  };
  return ready;
}

export function agentTimestamps(): AgentTimestamps | undefined {
  return ready;
}
