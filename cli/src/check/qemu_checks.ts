// The checks of the configured QEMU: that it runs, and that it has the devices and the machine
// type the shim's command line uses (shim/src/vm/qemu_command.ts). QEMU lists both itself:
// `-device help` prints `name "vhost-user-fs-pci", bus PCI`, `-machine help` one machine a line.
import type { GuestRuntime, VfsConfig } from '@vfs/runtime-config';
import { type CommandResult, versionLine } from '../host/command_output';
import { type CheckResult, fail, ok } from './check_result';

type Hypervisor = VfsConfig['hypervisor'];

export function deviceNames(help: string): Set<string> {
  return new Set(Array.from(help.matchAll(/^name "([^"]+)"/gm), (m) => m[1]!));
}

export function machineNames(help: string): Set<string> {
  const rows = help.split('\n').filter((line) => !line.startsWith('Supported machines'));
  return new Set(rows.map((line) => line.split(/\s+/)[0]!).filter((name) => name !== ''));
}

/** The microvm family puts its boot devices on virtio-mmio; q35 on PCI. */
function mmio(machine: Hypervisor['machine']): boolean {
  return machine !== 'q35';
}

/** Volumes are hot-plugged as vhost-user-fs-pci on pre-created root ports; microvm has none. */
function hotplugs(hypervisor: Hypervisor): boolean {
  return hypervisor.machine !== 'microvm' && hypervisor.hotplug_slots > 0;
}

/** The device that carries the guest runtime when it is a file ([agent] runtime), not a share. */
function runtimeDevices(onMmio: boolean, runtime: GuestRuntime): string[] {
  if (runtime === 'image') return [onMmio ? 'virtio-blk-device' : 'virtio-blk-pci'];
  return runtime === 'pmem' ? ['virtio-pmem-pci'] : [];
}

/** What the shim puts on QEMU's command line, or device_adds later, for this configuration. */
export function neededDevices(hypervisor: Hypervisor, runtime: GuestRuntime = 'share'): readonly string[] {
  const onMmio = mmio(hypervisor.machine);
  const needed = [
    onMmio ? 'vhost-user-fs-device' : 'vhost-user-fs-pci',
    onMmio ? 'virtio-serial-device' : 'virtio-serial-pci',
    'virtserialport',
    ...runtimeDevices(onMmio, runtime),
    ...(hotplugs(hypervisor) ? ['pcie-root-port', 'vhost-user-fs-pci'] : []),
    ...(hypervisor.reclaim_guest_freed_memory ? [onMmio ? 'virtio-balloon-device' : 'virtio-balloon-pci'] : []),
  ];
  return [...new Set(needed)];
}

export function checkQemuBinary(path: string, version: CommandResult): CheckResult {
  return version.ok
    ? ok('QEMU', `${path}: ${versionLine(version)}`)
    : fail('QEMU', `${version.error} (install QEMU, or set hypervisor.path)`);
}

export function checkQemuDevices(
  hypervisor: Hypervisor,
  help: CommandResult,
  runtime: GuestRuntime = 'share',
): CheckResult {
  const what = 'QEMU devices';
  if (!help.ok) return fail(what, `cannot list them: ${help.error}`);
  const present = deviceNames(help.stdout);
  const needed = neededDevices(hypervisor, runtime);
  const missing = needed.filter((name) => !present.has(name));
  const runtimeContext = runtime === 'share' ? '' : `, runtime ${runtime}`;
  const context = `machine ${hypervisor.machine}${hotplugs(hypervisor) ? ' with hotplug' : ''}${runtimeContext}`;
  return missing.length === 0
    ? ok(what, `${needed.join(', ')} (${context})`)
    : fail(what, `${missing.join(', ')} missing, needed by ${context}`);
}

export function checkQemuMachines(hypervisor: Hypervisor, help: CommandResult): CheckResult {
  const what = 'QEMU machines';
  if (!help.ok) return fail(what, `cannot list them: ${help.error}`);
  const present = machineNames(help.stdout);
  const base = mmio(hypervisor.machine) ? 'microvm' : 'q35';
  const listed = ['microvm', 'q35'].filter((name) => present.has(name));
  const configured = `configured: ${hypervisor.machine}`;
  return present.has(base)
    ? ok(what, `${listed.join(', ')} (${configured})`)
    : fail(
        what,
        `QEMU has no ${base} machine (${configured}; it has ${listed.join(', ') || 'neither microvm nor q35'})`,
      );
}
