// `vfs-runtime check`: every check against this host and the effective configuration. A
// configuration that does not load FAILs, and the checks that need it are left out.
import { ACCEL_CACHE, errorMessage, QEMU_DAX_PROBE_ARGS } from '@vfs/contracts';
import {
  type GuestRuntime,
  guestRuntime,
  type LoadedConfig,
  runtimeImagePath,
  runtimePmemPath,
  runtimeShareDir,
} from '@vfs/runtime-config';
import { templateStatus } from '@vfs/shim/template';
import type { CliIo } from '../cli_io';
import { type EffectiveConfig, effectiveConfig } from '../effective_config';
import { runCommand } from '../host/command_output';
import {
  type Access,
  cgroupControllers,
  hostBootId,
  KVM_DEVICE,
  probeDevice,
  probeFile,
  readAccelCache,
} from '../host/host_probe';
import { type CheckResult, failed, renderChecks, warn } from './check_result';
import { checkAccel, checkCgroupV2, checkContainerd } from './host_checks';
import { checkConfig, checkInstalledFile, checkRuntimeShare, configFailure } from './install_checks';
import { checkQemuBinary, checkQemuDevices, checkQemuMachines } from './qemu_checks';
import { checkQemuDax } from './qemu_dax_check';
import { checkTemplate } from './template_check';

async function configuredChecks({ config }: LoadedConfig, root: string): Promise<CheckResult[]> {
  const { hypervisor, daemon } = config;
  const qemu = (...args: string[]) => runCommand(hypervisor.path, args);
  const [version, devices, machines, fsProperties] = await Promise.all([
    qemu('--version'),
    qemu('-device', 'help'),
    qemu('-machine', 'help'),
    qemu(...QEMU_DAX_PROBE_ARGS),
  ]);
  const readable = (path: string) => probeFile(path, 'read');
  return [
    checkAccel({
      configured: hypervisor.accel,
      kvm: probeDevice(KVM_DEVICE),
      cache: readAccelCache(ACCEL_CACHE),
      bootId: hostBootId(),
    }),
    checkQemuBinary(hypervisor.path, version),
    checkQemuDevices(hypervisor, devices, guestRuntime(config)),
    checkQemuMachines(hypervisor, machines),
    checkQemuDax(daemon.dax_window_mib, fsProperties),
    checkInstalledFile(
      'guest kernel',
      hypervisor.kernel,
      readable(hypervisor.kernel),
      'make guest, or set hypervisor.kernel',
    ),
    checkInstalledFile(
      'guest initramfs',
      hypervisor.initramfs,
      readable(hypervisor.initramfs),
      'make guest, or set hypervisor.initramfs',
    ),
    checkInstalledFile(
      'virtio-fs daemon',
      daemon.path,
      probeFile(daemon.path, 'execute'),
      'make build, or set daemon.path',
    ),
    runtimeCheck(guestRuntime(config), root, readable),
    await templateCheck(config),
  ];
}

async function templateCheck(config: LoadedConfig['config']): Promise<CheckResult> {
  const { enable_template: enabled, template_path: dir } = config.factory;
  if (!enabled) return checkTemplate({ enabled, dir, matches: false });
  try {
    const { meta, matches } = await templateStatus(config);
    return checkTemplate({ enabled, dir, matches, savedAt: meta?.createdAt });
  } catch (err) {
    // A shim finding it so boots its VM (and says why): so does this line.
    return warn('VM template', `${dir}: unreadable (${errorMessage(err)}): sandboxes boot`);
  }
}

/** The runtime the guest mounts: the share's files, or the one image file QEMU attaches. */
function runtimeCheck(runtime: GuestRuntime, root: string, readable: (path: string) => Access): CheckResult {
  if (runtime === 'share') return checkRuntimeShare(runtimeShareDir(root), readable);
  const [name, path] =
    runtime === 'image' ? ['runtime image', runtimeImagePath(root)] : ['runtime pmem image', runtimePmemPath(root)];
  return checkInstalledFile(name, path, readable(path), 'make runtime, or set agent.runtime = "share"');
}

/** Every line `check` prints, in order. */
export async function hostChecks(env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  const hostOnly = async () => [
    checkCgroupV2(cgroupControllers()),
    checkContainerd(await runCommand('containerd', ['--version'])),
  ];
  let effective: EffectiveConfig;
  try {
    effective = effectiveConfig(env);
  } catch (err) {
    return [configFailure(err), ...(await hostOnly())];
  }
  return [
    checkConfig(effective.loaded),
    ...(await configuredChecks(effective.loaded, effective.root)),
    ...(await hostOnly()),
  ];
}

export async function runCheck(io: CliIo): Promise<number> {
  const results = await hostChecks(io.env);
  io.out(renderChecks(results));
  return failed(results) === 0 ? 0 : 1;
}
