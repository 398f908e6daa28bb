// The sandbox's QEMU, from the [hypervisor] configuration: the guest kernel and initramfs in
// agent mode, one vhost-user-fs device per share, the agent's virtio-serial port, a QMP socket,
// the console in a file. `accel = "auto"` asks detectAccel, whose verdict is cached per host
// boot in ACCEL_CACHE (a host fact, shared by every containerd and shim of the host).

import { accessSync, constants, statSync } from 'node:fs';
import { ACCEL_CACHE, type BootArgs, bootArgs, DEFAULT_RUNTIME_TAG, RUNTIME_IMAGE_SERIAL } from '@vfs/contracts';
import { guestRuntime, installRoot, type LoadedConfig, runtimeImagePath, runtimePmemPath } from '@vfs/runtime-config';
import { detectAccel } from '../vm/accel';
import { hostTscKhz } from '../vm/host_tsc';
import {
  buildQemuArgs,
  type Accel,
  type PmemDevice,
  type ReadonlyDisk,
  type TapNetDevice,
  type VhostUserFsDevice,
} from '../vm/qemu_command';
import { FIRST_INHERITED_FD, launchQemu, type RunningQemu } from '../vm/qemu_process';
import { inNetns } from '../pod_network/netns_exec';
import type { PodNetwork } from '../pod_network/pod_network';
import { SandboxError } from '../sandbox_error';
import type { SandboxLayout } from './sandbox_layout';

type HypervisorConfig = LoadedConfig['config']['hypervisor'];

/**
 * A file QEMU attaches read-only for the guest's runtime instead of the share: the erofs image as a
 * virtio-blk disk, or the pmem image (erofs behind a pfn info block) as virtio-pmem, mapped with DAX.
 */
export interface RuntimeFile {
  readonly kind: 'image' | 'pmem';
  readonly path: string;
}

export interface VmLaunch {
  readonly sandboxId: string;
  readonly hypervisor: HypervisorConfig;
  readonly layout: SandboxLayout;
  readonly devices: readonly VhostUserFsDevice[];
  /** The runtime as a read-only file; none: the guest mounts the runtime share. */
  readonly runtimeFile?: RuntimeFile;
  /** The pod's network: QEMU then runs in its netns, where it opens the taps by name. */
  readonly network?: PodNetwork;
  /**
   * Root ports for the boot shares plugged once the daemon serves (vm_bringup.ts), after the
   * volumes' `hotplug_slots` ones: `hp<slots>`, `hp<slots + 1>`, …
   */
  readonly lateSharePorts?: number;
  /** Guest RAM in this (tmpfs) file instead of a memfd QEMU makes: a VM template's (template/). */
  readonly memoryFile?: string;
  /** Guest RAM in this memfd of the shim's, which QEMU inherits: a copy of a template's RAM. */
  readonly memoryFd?: number;
  /** The VM resumes a saved state (`-incoming defer`) instead of booting. */
  readonly incoming?: boolean;
}

/** build/runtime.erofs for [agent] runtime = "image", build/runtime.pmem for "pmem"; none: the share. */
export function runtimeFile(config: LoadedConfig['config']): RuntimeFile | undefined {
  switch (guestRuntime(config)) {
    case 'image':
      return { kind: 'image', path: runtimeImagePath(installRoot()) };
    case 'pmem':
      return { kind: 'pmem', path: runtimePmemPath(installRoot()) };
    case 'share':
      return undefined;
  }
}

/** QEMU's program and arguments: inside the pod's netns when the VM has NICs there. */
function qemuCommand(binary: string, args: string[], network: PodNetwork | undefined): [string, string[]] {
  if (network === undefined || network.nics.length === 0) return [binary, args];
  const [nsenter, ...prefix] = inNetns(network.netnsPath, [binary]);
  return [nsenter as string, [...prefix, ...args]];
}

function netDevices(network: PodNetwork | undefined): TapNetDevice[] {
  return (network?.nics ?? []).map((nic) => ({
    id: nic.id,
    tap: nic.tap,
    mac: nic.mac,
    vhost: network?.vhost === true,
  }));
}

/** Fails Create before anything is started when a configured file is missing. */
export function checkReadable(path: string, what: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new SandboxError(
      'not-installed',
      `${what} ${path} is missing or unreadable (build it with \`make build runtime\`, or fix the vfs configuration)`,
    );
  }
}

/** The configured accelerator; `auto` asks the cached KVM probe. */
export async function chooseAccel(hypervisor: HypervisorConfig): Promise<Accel> {
  if (hypervisor.accel !== 'auto') return hypervisor.accel;
  return detectAccel({
    kernelPath: hypervisor.kernel,
    initrdPath: hypervisor.initramfs,
    cachePath: ACCEL_CACHE,
    qemuBinary: hypervisor.path,
  });
}

/** [hypervisor] kernel_params as words. */
export function kernelParams(text: string): string[] {
  return text.split(/\s+/).filter((word) => word !== '');
}

/** Root ports for hot-plugged volumes: none on microvm, which cannot hotplug. */
export function hotplugSlots(hypervisor: HypervisorConfig): number {
  return hypervisor.machine === 'microvm' ? 0 : hypervisor.hotplug_slots;
}

function runtimeDisks(file: RuntimeFile | undefined): ReadonlyDisk[] {
  return file?.kind === 'image' ? [{ id: 'rt', path: file.path, serial: RUNTIME_IMAGE_SERIAL }] : [];
}

/** The whole pmem file is the device, so its size is the file's (make runtime pads it to 2 MiB). */
function runtimePmem(file: RuntimeFile | undefined): PmemDevice[] {
  return file?.kind === 'pmem' ? [{ id: 'rt', path: file.path, sizeBytes: statSync(file.path).size }] : [];
}

function runtimeBootArgs(file: RuntimeFile | undefined): BootArgs {
  if (file === undefined) return { mode: 'agent', runtimeTag: DEFAULT_RUNTIME_TAG };
  return file.kind === 'pmem'
    ? { mode: 'agent', runtimePmem: true }
    : { mode: 'agent', runtimeImage: RUNTIME_IMAGE_SERIAL };
}

/** QEMU opens its inherited memfd again through /proc, as a file it maps shared. */
function guestRamFile(launch: VmLaunch): { memoryFile?: string } {
  if (launch.memoryFd !== undefined) return { memoryFile: `/proc/self/fd/${FIRST_INHERITED_FD}` };
  return launch.memoryFile === undefined ? {} : { memoryFile: launch.memoryFile };
}

export async function startVm(launch: VmLaunch): Promise<RunningQemu> {
  const { hypervisor, layout } = launch;
  checkReadable(hypervisor.kernel, 'hypervisor.kernel');
  checkReadable(hypervisor.initramfs, 'hypervisor.initramfs');
  let args: string[];
  try {
    args = buildQemuArgs({
      name: `vfs-${launch.sandboxId}`,
      machine: hypervisor.machine,
      accel: await chooseAccel(hypervisor),
      memoryMiB: hypervisor.memory_mib,
      vcpus: hypervisor.vcpus,
      kernelPath: hypervisor.kernel,
      initrdPath: hypervisor.initramfs,
      hotplugRootPorts: hotplugSlots(hypervisor) + (launch.lateSharePorts ?? 0),
      kernelArgs: [...bootArgs(runtimeBootArgs(launch.runtimeFile)), ...kernelParams(hypervisor.kernel_params)],
      tscKhz: hostTscKhz(),
      fsDevices: launch.devices,
      readonlyDisks: runtimeDisks(launch.runtimeFile),
      pmemDevices: runtimePmem(launch.runtimeFile),
      netDevices: netDevices(launch.network),
      agentSocketPath: layout.agentSocket,
      qmpSocketPath: layout.qmpSocket,
      consoleLogPath: layout.consoleLog,
      freePageReporting: hypervisor.reclaim_guest_freed_memory,
      ...guestRamFile(launch),
      ...(launch.incoming === true ? { incoming: true } : {}),
    });
  } catch (err) {
    throw SandboxError.wrap(err, 'QEMU configuration', 'bad-config');
  }
  try {
    const [binary, argv] = qemuCommand(hypervisor.path, args, launch.network);
    return await launchQemu({
      args: argv,
      binary,
      stderrLogPath: layout.qemuStderr,
      cleanupPaths: [layout.agentSocket, layout.qmpSocket],
      ...(launch.memoryFd === undefined ? {} : { inheritFds: [launch.memoryFd] }),
    });
  } catch (err) {
    throw SandboxError.wrap(err, 'hypervisor.path', 'not-installed');
  }
}
