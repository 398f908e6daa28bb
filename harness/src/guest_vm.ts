// Boots the project's guest (build/guest from `make guest`) under TCG for e2e tests, and keeps
// the PIDs of everything a test started so cleanup can kill them even after a failure.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INIT_MARKERS } from '@vfs/contracts';
import { waitForConsole } from '@vfs/shim/vm';
import { REPO_ROOT } from './repo';
import { hostTscKhz } from '@vfs/shim/vm';
import { buildQemuArgs, type Machine, type QemuConfig, type VhostUserFsDevice } from '@vfs/shim/vm';
import { killQemuByPid, launchQemu, type QemuExit, type RunningQemu } from '@vfs/shim/vm';

export const GUEST_DIR = join(REPO_ROOT, 'build', 'guest');
export const KERNEL = join(GUEST_DIR, 'vmlinux');
export const INITRD = join(GUEST_DIR, 'initramfs.cpio.lz4');
export const BOOT_TIMEOUT_MS = 60_000;

/** The guest kernel's `uname -r` (agent/image/kernel/build.sh writes it): proof a process ran in the VM. */
export function guestKernelRelease(): string {
  return readFileSync(join(GUEST_DIR, 'kernel-version'), 'utf8').trim();
}

export interface BootResult {
  readonly exit: QemuExit;
  readonly console: string;
  readonly initMarkerMs: number;
  readonly exitMs: number;
}

export function requireGuestImage(): void {
  for (const path of [KERNEL, INITRD]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run \`make guest\` first`);
  }
}

export function vmConfig(
  workDir: string,
  machine: Machine,
  kernelArgs: string[],
  fsDevices: VhostUserFsDevice[] = [],
  consoleName = 'console.log',
): QemuConfig {
  return {
    machine,
    accel: 'tcg',
    memoryMiB: 256,
    vcpus: 1,
    kernelPath: KERNEL,
    initrdPath: INITRD,
    kernelArgs,
    tscKhz: hostTscKhz(),
    fsDevices,
    consoleLogPath: join(workDir, consoleName),
  };
}

export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The VMs of one test file: started through it, killed by PID in `killAll`. */
export class GuestVms {
  private readonly pids: number[] = [];

  /** `qemuBinary`: the QEMU they boot on (the one on PATH when not given). */
  constructor(private readonly qemuBinary?: string) {}

  async start(workDir: string, config: QemuConfig, extra: Partial<QemuConfig> = {}): Promise<RunningQemu> {
    const qemu = await launchQemu({
      args: buildQemuArgs({ ...config, ...extra }),
      binary: this.qemuBinary,
      stderrLogPath: join(workDir, 'qemu.stderr'),
    });
    this.pids.push(qemu.pid);
    return qemu;
  }

  /** Boots, waits for the init marker and for the guest to power off. */
  async boot(workDir: string, config: QemuConfig, extra: Partial<QemuConfig> = {}): Promise<BootResult> {
    const started = performance.now();
    const qemu = await this.start(workDir, config, extra);
    const marker = waitForConsole(config.consoleLogPath, INIT_MARKERS.start, {
      timeoutMs: BOOT_TIMEOUT_MS,
      abortOn: qemu.exited,
      pollMs: 5,
    }).then(() => performance.now() - started);
    const exit = await withDeadline(qemu.exited, BOOT_TIMEOUT_MS, 'guest did not power off');
    const exitMs = performance.now() - started;
    return { exit, console: readFileSync(config.consoleLogPath, 'utf8'), initMarkerMs: await marker, exitMs };
  }

  killAll(): void {
    for (const pid of this.pids.splice(0)) killQemuByPid(pid, 'SIGKILL');
  }
}
