// The bare-VM floor: the QEMU binary, machine, memory, vCPUs, accelerator, kernel, initramfs and
// kernel command line a vfs sandbox gets (from the same configuration, resolved the shim's way),
// with /init told `vfs.mode=poweroff`: it powers off as soon as it starts. Timed from spawn to
// QEMU's exit, this is what any VM of this shape costs before vfs does anything. There are no
// vhost-user-fs devices (they need a daemon); the agent's virtio-serial port and QMP are there.

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bootArgs, INIT_MARKERS } from '@vfs/contracts';
import { installRoot, loadRuntimeConfig, type LoadedConfig } from '@vfs/runtime-config';
import { chooseAccel, hotplugSlots, kernelParams } from '@vfs/shim/vm';
import { consoleBootTimes } from '@vfs/shim/vm';
import { readConsole } from '@vfs/shim/vm';
import { hostTscKhz } from '@vfs/shim/vm';
import { buildQemuArgs, type Accel, type Machine } from '@vfs/shim/vm';
import { launchQemu, type RunningQemu } from '@vfs/shim/vm';

type Hypervisor = LoadedConfig['config']['hypervisor'];

const FLOOR_TIMEOUT_MS = 60_000;

export interface FloorRun {
  readonly ms: number;
  /** Guest uptime at `vfs-init: start`, seconds. */
  readonly initStartS: number | undefined;
}

export interface FloorVm {
  readonly machine: Machine;
  readonly describe: string;
  run(): Promise<FloorRun>;
  /** Kills a VM still running (SIGINT, failure). */
  stop(): Promise<void>;
}

function floorArgs(hypervisor: Hypervisor, accel: Accel, dir: string): string[] {
  return buildQemuArgs({
    name: 'vfs-bench-floor',
    machine: hypervisor.machine,
    accel,
    memoryMiB: hypervisor.memory_mib,
    vcpus: hypervisor.vcpus,
    kernelPath: hypervisor.kernel,
    initrdPath: hypervisor.initramfs,
    // The root ports a sandbox of this machine boots with are part of its floor.
    hotplugRootPorts: hotplugSlots(hypervisor),
    kernelArgs: [...bootArgs({ mode: 'poweroff' }), ...kernelParams(hypervisor.kernel_params)],
    tscKhz: hostTscKhz(),
    fsDevices: [],
    agentSocketPath: join(dir, 'agent.sock'),
    qmpSocketPath: join(dir, 'qmp.sock'),
    consoleLogPath: join(dir, 'console.log'),
    freePageReporting: hypervisor.reclaim_guest_freed_memory,
  });
}

async function exitWithin(qemu: RunningQemu, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([qemu.exited.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Signals QEMU only while its exit is unseen: a reaped pid may already be someone else's. */
function stoppable(qemu: RunningQemu): () => Promise<void> {
  let gone = false;
  void qemu.exited.then(() => {
    gone = true;
  });
  return async () => {
    if (!gone) await qemu.stop(0);
  };
}

/** The VM shape a floor may differ in from the configured one. */
export type FloorShape = Partial<Pick<Hypervisor, 'machine' | 'memory_mib' | 'vcpus'>>;

/**
 * The configured VM's floor, or that of another `shape` (the same VM otherwise): another machine
 * shows what hotplug costs; vfs-bench's cells change memory and vCPUs too.
 */
export async function floorVm(workDir: string, shape: FloorShape = {}): Promise<FloorVm> {
  const configured = loadRuntimeConfig({ root: installRoot() }).config.hypervisor;
  const hypervisor: Hypervisor = { ...configured, ...shape };
  const accel = await chooseAccel(hypervisor);
  let stopRunning: () => Promise<void> = async () => undefined;
  const run = async (): Promise<FloorRun> => {
    const dir = mkdtempSync(join(workDir, 'floor-'));
    try {
      const args = floorArgs(hypervisor, accel, dir);
      const started = performance.now();
      const qemu = await launchQemu({
        args,
        binary: hypervisor.path,
        stderrLogPath: join(dir, 'qemu.stderr'),
        cleanupPaths: [join(dir, 'agent.sock'), join(dir, 'qmp.sock')],
      });
      stopRunning = stoppable(qemu);
      if (!(await exitWithin(qemu, FLOOR_TIMEOUT_MS)))
        throw new Error(`the floor VM did not power off within ${FLOOR_TIMEOUT_MS} ms`);
      const ms = performance.now() - started;
      const exit = await qemu.exited;
      const console = readConsole(join(dir, 'console.log'));
      if (exit.code !== 0 || !INIT_MARKERS.poweroff.test(console)) {
        throw new Error(
          `the floor VM failed (exit ${exit.signal ?? exit.code}): ${exit.stderrTail}\n${console.slice(-1500)}`,
        );
      }
      return { ms, initStartS: consoleBootTimes(console).initStartS };
    } finally {
      await stopRunning();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const describe = `${hypervisor.path} -M ${hypervisor.machine} -accel ${accel} -m ${hypervisor.memory_mib}M -smp ${hypervisor.vcpus}, ${hypervisor.kernel}, ${bootArgs({ mode: 'poweroff' }).join(' ')}`;
  return { machine: hypervisor.machine, describe, run, stop: () => stopRunning() };
}
