// Splits one vfs `ctr run` into consecutive phases from the shim's timestamps: each phase ends at
// its milestone, so the phases add up to the run. Kernel → /init needs the guest's /init start in
// host time. Guest times are uptimes (CLOCK_BOOTTIME); the agent reports its ready uptime, and the
// shim saw the agent ready (first Check answered) moments later in host time: that pair anchors
// guest uptime on the host clock, erring late by the Check's latency. Without the agent's times,
// uptime 0 is taken to be QEMU's spawn, which leaves QEMU's set-up and the kernel's start before
// its clock in "kernel → /init" being unseen (an underestimate).

import type { SandboxTimings } from '@vfs/shim/vm';
import type { TimedRun } from './ctr_run';

export const PHASES = [
  {
    key: 'shim_start',
    label: 'shim start',
    what: 'ctr → the shim (`start`) began, or claimed a spare shim of the pool (ctr, containerd: container, snapshot, task)',
  },
  {
    key: 'daemon_ready',
    label: 'daemon ready',
    what: 'shim began → vfs-virtiofsd serving, shares exported (0 when it starts beside QEMU: the shares plugged late)',
  },
  {
    key: 'qemu_spawned',
    label: 'QEMU spawned',
    what: 'daemon ready (shim began, when the daemon starts beside QEMU) → QEMU process spawned',
  },
  { key: 'kernel_to_init', label: 'kernel → /init', what: 'QEMU spawned → /init starts' },
  {
    key: 'agent_ready',
    label: 'agent ready',
    what: "/init (or QEMU spawned when /init is not placed: a pooled or resumed VM) → the agent's first answer (Check; a pooled VM's CreateSandbox)",
  },
  { key: 'container_started', label: 'container started', what: 'agent ready → StartContainer answered' },
  { key: 'exit_seen', label: 'exit seen', what: 'started → exit and output relayed' },
  { key: 'teardown', label: 'teardown', what: 'exit seen → ctr exits (Delete, Shutdown, VM stop, snapshot removal)' },
] as const;

export type PhaseKey = (typeof PHASES)[number]['key'];

export const DETAILS = [
  { key: 'shim_to_create', label: 'shim began → Create reaches the VM runtime (Node, listen, containerd)' },
  { key: 'create_to_daemon_spawn', label: 'Create → daemon spawned (bind mounts)' },
  { key: 'daemon_spawn_to_ready', label: 'daemon spawned → control socket + exports' },
  { key: 'copy_template', label: 'the VM template copied (template on)' },
  { key: 'resume_template', label: 'template copied → the copy resumed in QEMU (template on)' },
  { key: 'plug_shares', label: 'daemon ready or QEMU spawned → shares hot-plugged' },
  { key: 'qemu_before_guest_clock', label: 'QEMU set-up + kernel before its clock starts' },
  { key: 'init_to_agent_launch', label: '/init → node launched (runtime mount)' },
  { key: 'agent_started_to_ready', label: 'agent process start → serving (Node start + load)' },
  { key: 'create_sandbox', label: "CreateSandbox (a booted VM's share mounts)" },
  { key: 'create_container', label: 'CreateContainer (rootfs overlay, launcher)' },
  { key: 'create_to_start', label: 'Create answered → StartContainer answered' },
] as const;

export type DetailKey = (typeof DETAILS)[number]['key'];

export interface RunPhases {
  readonly phases: Partial<Record<PhaseKey, number>>;
  readonly details: Partial<Record<DetailKey, number>>;
  /** How /init's start was placed on the host clock. */
  readonly anchor: 'agent-ready' | 'qemu-spawn' | 'none';
}

function span(from: number | undefined, to: number | undefined): number | undefined {
  return from === undefined || to === undefined ? undefined : to - from;
}

function seconds(from: number | undefined, to: number | undefined): number | undefined {
  const s = span(from, to);
  return s === undefined ? undefined : s * 1000;
}

function initStartHost(t: SandboxTimings): { at: number | undefined; anchor: RunPhases['anchor'] } {
  const { initStartS, agentReadyS } = t.guest;
  if (initStartS === undefined) return { at: undefined, anchor: 'none' };
  const { agentReady, qemuSpawned } = t.host;
  if (agentReadyS !== undefined && agentReady !== undefined)
    return { at: agentReady - (agentReadyS - initStartS) * 1000, anchor: 'agent-ready' };
  if (qemuSpawned !== undefined) return { at: qemuSpawned + initStartS * 1000, anchor: 'qemu-spawn' };
  return { at: undefined, anchor: 'none' };
}

function defined<K extends string>(entries: readonly (readonly [K, number | undefined])[]): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const [key, value] of entries) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * Where QEMU's start began to count: the daemon's ready, or the shim's start when the daemon started
 * beside QEMU (the shares plugged late): the guest's boot did not wait for the daemon then.
 */
function qemuWaitedFrom(h: SandboxTimings['host']): number | undefined {
  return h.sharesPlugged === undefined ? h.daemonReady : h.shimStart;
}

/** The later of two milestones, either of which may be missing. */
function later(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : Math.max(a, b);
}

export function runPhases(run: TimedRun, t: SandboxTimings): RunPhases {
  const h = t.host;
  const g = t.guest;
  const init = initStartHost(t);
  const daemonEnd = qemuWaitedFrom(h);
  const phases = defined<PhaseKey>([
    ['shim_start', span(run.startWallMs, h.shimStart)],
    ['daemon_ready', span(h.shimStart, daemonEnd)],
    ['qemu_spawned', span(daemonEnd, h.qemuSpawned)],
    ['kernel_to_init', span(h.qemuSpawned, init.at)],
    // A pooled VM booted before the run: its wait is the agent's first answer after the hand-over
    // (CreateSandbox's, standing in for Check, when no NIC is plugged first).
    ['agent_ready', span(init.at ?? h.qemuSpawned, h.agentReady)],
    ['container_started', span(h.agentReady, h.containerStarted)],
    ['exit_seen', span(h.containerStarted, h.exitSeen)],
    ['teardown', span(h.exitSeen, run.endWallMs)],
  ]);
  // Only the agent-ready anchor sees the time before the guest's clock starts.
  const beforeClock = init.anchor === 'agent-ready' ? span(h.qemuSpawned, init.at) : undefined;
  const details = defined<DetailKey>([
    ['shim_to_create', span(h.shimStart, h.createCalled)],
    ['create_to_daemon_spawn', span(h.createCalled, h.daemonSpawned)],
    ['daemon_spawn_to_ready', span(h.daemonSpawned, h.daemonReady)],
    ['copy_template', span(h.templateCopyBegan, h.templateCopied)],
    ['resume_template', span(h.templateCopied, h.qemuSpawned)],
    ['plug_shares', span(later(h.daemonReady, h.qemuSpawned), h.sharesPlugged)],
    [
      'qemu_before_guest_clock',
      beforeClock === undefined || g.initStartS === undefined ? undefined : beforeClock - g.initStartS * 1000,
    ],
    ['init_to_agent_launch', seconds(g.initStartS, g.agentLaunchS)],
    ['agent_started_to_ready', seconds(g.agentStartedS, g.agentReadyS)],
    ['create_sandbox', span(h.agentReady, h.sandboxCreated)],
    ['create_container', span(h.sandboxCreated, h.containerCreated)],
    ['create_to_start', span(h.containerCreated, h.containerStarted)],
  ]);
  return { phases, details, anchor: init.anchor };
}
