// One boot of bench-guest's VM against one back end and cache mode: the share reset, the daemon
// started, QEMU (q35, TCG, 2 vCPUs; ours for ours-vmm and ours-dax) booted with the workload, the
// host CPU of the daemon and of QEMU sampled when the workload's begin and end lines reach the
// console, and everything stopped. A DAX run whose share the guest did not mount dax fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildQemuArgs,
  hostTscKhz,
  killQemuByPid,
  launchQemu,
  type QemuExit,
  type RunningQemu,
  type VhostUserFsDevice,
} from '@vfs/shim/vm';
import { processTreeCpuNs } from '../bench_common/process_cpu';
import {
  type Backend,
  type Cache,
  type DaemonPaths,
  DAX_WINDOW_MIB,
  daxMountOption,
  mountFor,
  ninePArgs,
  onOurQemu,
  type RunningDaemon,
  startDaemon,
} from './backends';
import { type DaemonTrace, startDaemonTrace } from './daemon_trace';
import { BEGIN, END, mountOptionsOf, type PhaseResult, parseGuestOutput } from './guest_output';
import type { RequestCycles } from './request_cycles';
import { resetShare } from './share';

export interface GuestImage {
  readonly kernel: string;
  readonly initrd: string;
}

export interface RunSpec {
  readonly backend: Backend;
  readonly cache: Cache;
  /** Names this run's files (socket, logs, console) apart from other rounds'. */
  readonly round: number;
  readonly scale: number;
  readonly share: string;
  /** Sockets, logs and the console of this run go here. */
  readonly work: string;
  readonly image: GuestImage;
  readonly paths: DaemonPaths;
  /** Registers a last-resort kill (benchmark clean-up after a failure or a signal). */
  readonly track: (what: string, kill: () => void) => void;
  /** Record the daemon's system calls with perf into this dir (--trace). */
  readonly traceDir?: string;
}

export interface RunResult {
  readonly phases: readonly PhaseResult[];
  /** Host CPU from the workload's first to its last line; 0 for 9p (no daemon). */
  readonly daemonCpuMs: number;
  readonly qemuCpuMs: number;
  /** The daemon's request cycles, under --trace. */
  readonly cycles?: RequestCycles;
}

const POLL_MS = 10;
/** Boot (~6 s under TCG) plus the workload at scale 1 on the slowest back end, with room. */
const RUN_BASE_MS = 60_000;
const RUN_PER_SCALE_MS = 600_000;
/** From the workload's end through umount and power-off. */
const EXIT_WAIT_MS = 60_000;

function readConsole(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

export async function runGuest(spec: RunSpec): Promise<RunResult> {
  resetShare(spec.share);
  const name = `${spec.backend}-${spec.cache}-${spec.round}`;
  const socket = join(spec.work, `${name}.sock`);
  const consolePath = join(spec.work, `${name}.console`);
  const mount = mountFor(spec.backend, spec.cache);
  let daemon: RunningDaemon | undefined;
  let qemu: RunningQemu | undefined;
  let trace: DaemonTrace | undefined;
  try {
    if (spec.backend !== '9p')
      daemon = await startDaemon(
        spec.backend,
        spec.paths,
        spec.cache,
        socket,
        spec.share,
        join(spec.work, `${name}.log`),
      );
    const started = daemon;
    if (started !== undefined) spec.track(`stop the ${name} daemon`, () => started.kill());
    const args = buildQemuArgs({
      machine: 'q35',
      accel: 'tcg',
      memoryMiB: 512,
      vcpus: 2,
      kernelPath: spec.image.kernel,
      initrdPath: spec.image.initrd,
      kernelArgs: [`bench.fs=${mount.fs}`, `bench.opts=${mount.options}`, `bench.scale=${spec.scale}`],
      tscKhz: hostTscKhz(),
      fsDevices: daemon === undefined ? [] : [fsDevice(spec.backend, socket)],
      consoleLogPath: consolePath,
    });
    qemu = await launchQemu({
      args: spec.backend === '9p' ? [...args, ...ninePArgs(spec.share)] : args,
      binary: onOurQemu(spec.backend) ? spec.paths.vmmQemu : undefined,
      stderrLogPath: join(spec.work, `${name}.qemu.log`),
    });
    const qemuPid = qemu.pid;
    let qemuGone = false;
    void qemu.exited.then(() => {
      qemuGone = true;
    });
    // Only while it runs: a PID that exited may name another process later.
    spec.track(`kill QEMU ${qemuPid}`, () => qemuGone || killQemuByPid(qemuPid, 'SIGKILL'));
    const traceDir = spec.traceDir;
    const startTrace = (): void => {
      if (traceDir === undefined || started === undefined) return;
      const traced = startDaemonTrace(started.pid, join(traceDir, `${name}.perf.data`));
      trace = traced;
      spec.track(`stop perf for ${name}`, () => traced.kill());
    };
    const cpu = await sampleAroundWorkload(
      qemu,
      daemon,
      consolePath,
      RUN_BASE_MS + RUN_PER_SCALE_MS * spec.scale,
      startTrace,
    );
    const exit = await exitWithin(qemu, EXIT_WAIT_MS);
    await trace?.stop();
    const console = readConsole(consolePath);
    try {
      const phases = parseGuestOutput(console);
      checkMount(spec.backend, mountOptionsOf(console));
      return { phases, ...cpu, ...(trace === undefined ? {} : { cycles: await trace.read() }) };
    } catch (err) {
      const tail = console.split('\n').slice(-15).join('\n');
      throw new Error(
        `${name}: ${(err as Error).message}\nconsole:\n${tail}\nqemu: ${exit.stderrTail}\n${daemon?.logTail() ?? ''}`,
      );
    }
  } finally {
    await qemu?.stop();
    await trace?.stop();
    await daemon?.stop();
  }
}

/** The share's vhost-user-fs device; the DAX back ends' has the window (our QEMU's cache-size). */
function fsDevice(backend: Backend, socket: string): VhostUserFsDevice {
  const device = { id: 'fs0', socketPath: socket, tag: 'share' };
  return daxMountOption(backend) !== undefined ? { ...device, cacheSizeMiB: DAX_WINDOW_MIB } : device;
}

/** A DAX run is only one when the guest mounted the share with its dax= mode (a window it found). */
function checkMount(backend: Backend, options: string[] | null): void {
  const dax = daxMountOption(backend);
  if (dax !== undefined && !(options ?? []).includes(dax))
    throw new Error(`the guest mounted the share without DAX (options: ${options?.join(',') ?? 'none printed'})`);
}

/**
 * QEMU's exit, or an error after `ms`. The timer also keeps Node's event loop alive: launchQemu
 * unrefs QEMU's child, and the daemon may have exited with its front end.
 */
async function exitWithin(qemu: RunningQemu, ms: number): Promise<QemuExit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`QEMU did not exit within ${ms / 1000} s of the workload's end`)), ms);
  });
  try {
    return await Promise.race([qemu.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls the console for the begin and end lines, sampling CPU at each (and calling `onBegin` at the
 * first); returns once QEMU exits.
 */
async function sampleAroundWorkload(
  qemu: RunningQemu,
  daemon: RunningDaemon | undefined,
  consolePath: string,
  timeoutMs: number,
  onBegin: () => void,
): Promise<{ daemonCpuMs: number; qemuCpuMs: number }> {
  let exited = false;
  void qemu.exited.then(() => {
    exited = true;
  });
  const sample = (): { daemon: number; qemu: number } => ({
    daemon: daemon === undefined ? 0 : processTreeCpuNs(daemon.pid),
    qemu: processTreeCpuNs(qemu.pid),
  });
  let begin: { daemon: number; qemu: number } | undefined;
  let end: { daemon: number; qemu: number } | undefined;
  const deadline = Date.now() + timeoutMs;
  while (!exited && end === undefined) {
    if (Date.now() > deadline) throw new Error(`the guest did not finish within ${timeoutMs / 1000} s`);
    const console = readConsole(consolePath);
    if (begin === undefined && console.includes(BEGIN)) {
      begin = sample();
      onBegin();
    }
    if (begin !== undefined && console.includes(END)) end = sample();
    await sleep(POLL_MS);
  }
  if (begin === undefined || end === undefined) return { daemonCpuMs: 0, qemuCpuMs: 0 };
  return { daemonCpuMs: (end.daemon - begin.daemon) / 1e6, qemuCpuMs: (end.qemu - begin.qemu) / 1e6 };
}
