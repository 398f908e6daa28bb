/**
 * GetGuestDetails: the kernel, the agent's start and ready times, and the milestones /init
 * recorded in BOOT_MARKS ("<name> <seconds since boot>" lines, see agent/image/init.sh), all on
 * CLOCK_BOOTTIME, for the cold-start measurements.
 */
import { readFileSync } from 'node:fs';
import type { BootMark, GuestDetailsResponse } from '@vfs/proto/gen/agent/agent';
import { agentTimestamps } from '../timestamps';

export const AGENT_VERSION = '0.1.0';
export const BOOT_MARKS = '/run/vfs/boot-marks';

const secondsToNs = (s: number): number => Math.round(s * 1e9);

/**
 * uname -r, read live: Node 20's os.release() returns what os.js cached when it loaded, which in the
 * startup snapshot (agent.blob) is the build host's kernel.
 */
function kernelRelease(): string {
  return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
}

export function parseBootMarks(text: string): BootMark[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words): words is [string, string] => words.length === 2 && Number.isFinite(Number(words[1])))
    .map(([name, seconds]) => ({ name, sinceBootNs: secondsToNs(Number(seconds)) }));
}

function bootMarks(): BootMark[] {
  try {
    return parseBootMarks(readFileSync(BOOT_MARKS, 'utf8'));
  } catch (err) {
    // An agent not started by the vfs /init (a test harness) has no marks to report.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export function guestDetails(): GuestDetailsResponse {
  const times = agentTimestamps();
  return {
    kernelRelease: kernelRelease(),
    agentVersion: AGENT_VERSION,
    guestTime: new Date(),
    agentStartedNs: times === undefined ? 0 : secondsToNs(times.processStartUptimeS),
    agentReadyNs: times === undefined ? 0 : secondsToNs(times.readyUptimeS),
    marks: bootMarks(),
    agentFromSnapshot: times?.fromSnapshot ?? false,
  };
}
