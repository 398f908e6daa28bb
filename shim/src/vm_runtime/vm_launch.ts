// The sandbox's QEMU, from the [hypervisor] configuration: the guest kernel and initramfs in
// agent mode, one vhost-user-fs device per share, the agent's virtio-serial port, a QMP socket,
// the console in a file. `accel = "auto"` asks detectAccel, whose verdict is cached per host
// boot in ACCEL_CACHE (a host fact, shared by every containerd and shim of the host).

import { accessSync, constants } from 'node:fs';
import { ACCEL_CACHE, bootArgs, DEFAULT_RUNTIME_TAG, RUNTIME_IMAGE_SERIAL } from '@vfs/contracts';
import type { LoadedConfig } from '@vfs/runtime-config';
import { detectAccel } from '../vm/accel';
import { hostTscKhz } from '../vm/host_tsc';
import {
  buildQemuArgs,
  type Accel,
  type ReadonlyDisk,
  type TapNetDevice,
  type VhostUserFsDevice,
} from '../vm/qemu_command';
import { launchQemu, type RunningQemu } from '../vm/qemu_process';
import { inNetns } from '../pod_network/netns_exec';
import type { PodNetwork } from '../pod_network/pod_network';
import { SandboxError } from '../sandbox_error';
import type { SandboxLayout } from './sandbox_layout';

type HypervisorConfig = LoadedConfig['config']['hypervisor'];

export interface VmLaunch {
  readonly sandboxId: string;
  readonly hypervisor: HypervisorConfig;
  readonly layout: SandboxLayout;
  readonly devices: readonly VhostUserFsDevice[];
  /** The runtime as an erofs image, attached read-only; none: the guest mounts the runtime share. */
  readonly runtimeImage?: string;
  /** The pod's network: QEMU then runs in its netns, where it opens the taps by name. */
  readonly network?: PodNetwork;
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

function runtimeDisks(image: string | undefined): ReadonlyDisk[] {
  return image === undefined ? [] : [{ id: 'rt', path: image, serial: RUNTIME_IMAGE_SERIAL }];
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
      hotplugRootPorts: hotplugSlots(hypervisor),
      kernelArgs: [
        ...bootArgs(
          launch.runtimeImage === undefined
            ? { mode: 'agent', runtimeTag: DEFAULT_RUNTIME_TAG }
            : { mode: 'agent', runtimeImage: RUNTIME_IMAGE_SERIAL },
        ),
        ...kernelParams(hypervisor.kernel_params),
      ],
      tscKhz: hostTscKhz(),
      fsDevices: launch.devices,
      readonlyDisks: runtimeDisks(launch.runtimeImage),
      netDevices: netDevices(launch.network),
      agentSocketPath: layout.agentSocket,
      qmpSocketPath: layout.qmpSocket,
      consoleLogPath: layout.consoleLog,
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
    });
  } catch (err) {
    throw SandboxError.wrap(err, 'hypervisor.path', 'not-installed');
  }
}
