/**
 * Chooses the accelerator. /dev/kvm existing is not enough: on nested PVM hosts it exists but
 * standard guests hang (or QEMU aborts setting MSRs), so KVM is used only after a probe boot of
 * the real guest with `vfs.mode=poweroff` powers off in time. The verdict is cached per host boot
 * (keyed on /proc/sys/kernel/random/boot_id), so the probe is paid once, not on every VM start.
 */
import {
  accessSync,
  constants,
  mkdtempSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type AccelVerdict, bootArgs, INIT_MARKERS, parseAccelVerdict } from '@vfs/contracts';
import { readConsole } from './console_log';
import { buildQemuArgs, type Accel } from './qemu_command';
import type { QemuExit } from './qemu_exit';
import { launchQemu } from './qemu_process';

export interface AccelDetection {
  readonly kernelPath: string;
  readonly initrdPath: string;
  /** The verdict cache, ACCEL_CACHE (contracts/src/accel_cache.ts) or a test's own. */
  readonly cachePath: string;
  readonly qemuBinary?: string;
  /** A KVM guest powers off in well under a second; a hung one is killed at this bound. */
  readonly timeoutMs?: number;
  readonly kvmDevice?: string;
}

export async function detectAccel(opts: AccelDetection): Promise<Accel> {
  if (!kvmAccessible(opts.kvmDevice ?? '/dev/kvm')) return 'tcg';
  const bootId = hostBootId();
  const cached = readVerdict(opts.cachePath);
  if (cached?.bootId === bootId) return cached.accel;
  const accel: Accel = (await kvmBootsGuest(opts)) ? 'kvm' : 'tcg';
  writeVerdict(opts.cachePath, { bootId, accel });
  return accel;
}

function kvmAccessible(device: string): boolean {
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function hostBootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** Missing or corrupt: undefined, so the shim probes again. */
function readVerdict(path: string): AccelVerdict | undefined {
  try {
    return parseAccelVerdict(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Written via rename, so concurrent shims probing at once never read a torn file. */
function writeVerdict(path: string, verdict: AccelVerdict): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(verdict)}\n`);
  renameSync(tmp, path);
}

async function kvmBootsGuest(opts: AccelDetection): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-kvm-probe-'));
  try {
    const consoleLogPath = join(dir, 'console.log');
    const args = buildQemuArgs({
      machine: 'microvm',
      accel: 'kvm',
      memoryMiB: 128,
      vcpus: 1,
      kernelPath: opts.kernelPath,
      initrdPath: opts.initrdPath,
      kernelArgs: bootArgs({ mode: 'poweroff' }),
      fsDevices: [],
      consoleLogPath,
    });
    const qemu = await launchQemu({ args, binary: opts.qemuBinary, stderrLogPath: join(dir, 'stderr.log') });
    const exit = await withTimeout(qemu.exited, opts.timeoutMs ?? 3000);
    if (exit === undefined) {
      await qemu.stop(0);
      return false;
    }
    return probeSucceeded(exit, readConsole(consoleLogPath));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function probeSucceeded(exit: QemuExit, console: string): boolean {
  return exit.code === 0 && INIT_MARKERS.poweroff.test(console);
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
