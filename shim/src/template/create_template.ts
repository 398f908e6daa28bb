// `vfs-runtime template create`: boots the VM a sandbox of this configuration would boot, minus its
// shares (they are plugged into each copy later, vm_bringup.ts), with its RAM in a tmpfs file; waits
// for its agent, warms it up as the pool does (its first container's one-time costs) and saves
// the paused VM, its agent connection still open (vm_snapshot.ts). Then QEMU quits, the RAM's zero
// pages become holes (sparse_copy.ts), and the saved files become the template (template_store.ts).
// A failure, or SIGINT/SIGTERM (at the next step), stops QEMU and removes the new generation; the
// template there before stays.

import { mkdirSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { LoadedConfig } from '@vfs/runtime-config';
import { removeUnmountedTree } from '../host_mounts';
import type { ShimLogger } from '../logger';
import { SandboxError } from '../sandbox_error';
import { dialAgent } from '../vm_runtime/agent_dial';
import { templateVmLayout } from '../vm_runtime/sandbox_layout';
import { containerShares } from '../vm_runtime/share_plan';
import { UndoStack } from '../vm_runtime/undo_stack';
import { runtimeDir, vmDiagnostics } from '../vm_runtime/vm_bringup';
import { type ControlledVm, controlVm } from '../vm_runtime/vm_control';
import { checkReadable, chooseAccel, runtimeFile, startVm } from '../vm_runtime/vm_launch';
import { punchZeroPages } from './sparse_copy';
import { templateFingerprint } from './template_fingerprint';
import {
  lockTemplate,
  newGeneration,
  ownTemplateDir,
  publishTemplate,
  readTemplateMeta,
  type SavedVm,
  type TemplateMeta,
  templateFiles,
} from './template_store';

type Config = LoadedConfig['config'];

const QEMU_STOP_GRACE_MS = 2000;
const SAVE_TIMEOUT_MS = 60_000;
function checkTemplateInputs(config: Config): void {
  if (!config.factory.enable_template) {
    throw new SandboxError(
      'bad-config',
      'a VM template is used only with [factory] enable_template = true: set it in the configuration first',
    );
  }
  checkReadable(config.hypervisor.kernel, 'hypervisor.kernel');
  checkReadable(config.hypervisor.initramfs, 'hypervisor.initramfs');
  const file = runtimeFile(config);
  if (file === undefined) throw new SandboxError('bad-config', 'a VM template needs the guest runtime as a file');
  checkReadable(file.path, 'the guest runtime image (make runtime)');
}

/**
 * Why the creation must stop: QEMU went, or SIGINT/SIGTERM came. A signal does not exit at once:
 * the steps under way finish, the next check throws, and the undo steps run once, after them (QEMU
 * is detached: it would outlive an exit).
 */
class Interruption {
  private reason: string | undefined;
  readonly happened: Promise<string>;
  private stopWatching: () => void = () => undefined;

  constructor() {
    this.happened = new Promise((resolve) => {
      const onSignal = (signal: NodeJS.Signals): void => {
        this.reason ??= `interrupted by ${signal}`;
        resolve(this.reason);
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      this.stopWatching = () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      };
    });
  }

  /** Also stops the creation when `gone` (QEMU's end) settles. */
  watch(gone: Promise<string>): void {
    void gone.then((why) => {
      this.reason ??= why;
    });
  }

  check(): void {
    if (this.reason !== undefined) throw new SandboxError('host-failure', `template create: ${this.reason}`);
  }

  stop(): void {
    this.stopWatching();
  }
}

async function bootAndSave(
  config: Config,
  runDir: string,
  vm: SavedVm,
  undo: UndoStack,
  interruption: Interruption,
  log: ShimLogger,
): Promise<number> {
  const id = randomBytes(4).toString('hex');
  const layout = templateVmLayout(runDir, join(vm.dir, 'vm'), id);
  mkdirSync(layout.stateDir, { recursive: true, mode: 0o700 });
  mkdirSync(layout.socketDir, { recursive: true, mode: 0o700 });
  // The template VM runs only the guest's own code, for its boot and warm-up: no cap on its console.
  mkdirSync(dirname(layout.consoleLog), { recursive: true, mode: 0o700 });
  undo.push('remove the socket dir', () => removeUnmountedTree(layout.socketDir));
  undo.push('remove the template VM dir', () => removeUnmountedTree(layout.stateDir));
  const started = Date.now();
  const runtime = runtimeFile(config);
  const qemu = await startVm({
    sandboxId: `template-${id}`,
    hypervisor: config.hypervisor,
    layout,
    devices: [],
    lateSharePorts: containerShares(config.daemon).length,
    memoryFile: vm.memory,
    ...(runtime === undefined ? {} : { runtimeFile: runtime }),
  });
  let controlled: ControlledVm | undefined;
  undo.push('stop QEMU', async () => {
    await (controlled === undefined ? qemu.stop(QEMU_STOP_GRACE_MS) : controlled.stop(QEMU_STOP_GRACE_MS));
  });
  interruption.check();
  const control = await controlVm(qemu, layout.qmpSocket, log);
  controlled = control;
  interruption.watch(control.gone);
  const connection = await dialAgent({
    socketPath: layout.agentSocket,
    timeoutMs: config.agent.dial_timeout_ms,
    vmGone: Promise.race([control.gone, interruption.happened]),
    log,
  }).catch(async (err: unknown) => {
    throw SandboxError.wrap(err, `template VM (${await vmDiagnostics(control, layout)})`);
  });
  const bootMs = Date.now() - started;
  try {
    await connection.agent.warmUp({}, { timeoutMs: config.agent.request_timeout_ms });
    interruption.check();
    // Saved with its host connected: a copy's shim connects before the copy runs, so its agent
    // never sees a host leave (vm_bringup.ts), and takes the shim's first call as a new client's.
    await control.saveState(vm.state, SAVE_TIMEOUT_MS);
  } finally {
    connection.client.close();
  }
  interruption.check();
  await control.stop(QEMU_STOP_GRACE_MS);
  return bootMs;
}

/** Boots and saves a new template, replacing the one there; returns its description. */
export async function createTemplate(config: Config, runDir: string, log: ShimLogger): Promise<TemplateMeta> {
  checkTemplateInputs(config);
  const files = templateFiles(config.factory.template_path);
  ownTemplateDir(files);
  const lock = lockTemplate(files);
  const undo = new UndoStack(log);
  const interruption = new Interruption();
  try {
    const accel = await chooseAccel(config.hypervisor);
    const { generation, vm } = newGeneration(files);
    let published = false;
    undo.push('remove the unpublished generation', async () => {
      if (!published) rmSync(vm.dir, { recursive: true, force: true });
    });
    const bootMs = await bootAndSave(config, runDir, vm, undo, interruption, log);
    const zeroBytes = punchZeroPages(vm.memory);
    const meta: TemplateMeta = {
      generation,
      fingerprint: templateFingerprint(config, runtimeDir(), accel),
      createdAt: new Date().toISOString(),
      memoryMiB: config.hypervisor.memory_mib,
      memoryDataBytes: statSync(vm.memory).blocks * 512,
      stateBytes: statSync(vm.state).size,
      bootMs,
    };
    publishTemplate(files, meta);
    published = true;
    log.info({ ...meta, zeroPagesFreedBytes: zeroBytes }, 'VM template saved');
    return meta;
  } catch (err) {
    throw SandboxError.wrap(err, `create the VM template in ${files.dir}`);
  } finally {
    const failures = await undo.runAll();
    if (failures.length > 0) log.warn({ failures: failures.map((f) => f.message) }, 'template VM clean-up failed');
    interruption.stop();
    lock.release();
  }
}

export interface TemplateStatus {
  readonly dir: string;
  readonly meta?: TemplateMeta;
  /** Saved with this configuration, build, QEMU and accelerator. */
  readonly matches: boolean;
}

/** The saved template's description, and whether this configuration would resume it. */
export async function templateStatus(config: Config): Promise<TemplateStatus> {
  const files = templateFiles(config.factory.template_path);
  const meta = readTemplateMeta(files);
  if (meta === undefined) return { matches: false, dir: files.dir };
  const accel = await chooseAccel(config.hypervisor);
  return { meta, matches: meta.fingerprint === templateFingerprint(config, runtimeDir(), accel), dir: files.dir };
}
