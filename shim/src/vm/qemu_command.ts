/**
 * Builds the qemu-system-x86_64 argument vector for one sandbox VM from a typed config.
 * Facts behind the choices (ARCHITECTURE.md, 'QEMU and the guest'): vhost-user needs memfd RAM
 * with share=on; microvm boots the PVH vmlinux fastest but its virtio-mmio devices cannot be
 * hotplugged (q35 + pre-created pcie-root-ports can); microvm needs
 * virtio-mmio.force-legacy=false for vhost-user and tsc_early_khz under TCG.
 */
import { AGENT_PORT_NAME, DAX_PROPERTY, daxCacheSize, daxWindowProblem } from '@vfs/contracts';
import { machineMapsPmem } from '@vfs/runtime-config';

/**
 * microvm: virtio-mmio only, fastest to boot, no hotplug. microvm-pcie: the same, plus a PCIe
 * host bridge whose root ports take hot-plugged virtio-fs devices (guest `pcie_ports=native`:
 * the root ports' native hotplug, no ACPI on microvm). q35: a PC, everything on PCI.
 */
export type Machine = 'microvm' | 'microvm-pcie' | 'q35';

/** Whether boot devices go on virtio-mmio (the microvm family) rather than PCI. */
function mmio(machine: Machine): boolean {
  return machine !== 'q35';
}
export type Accel = 'kvm' | 'tcg';

export interface VhostUserFsDevice {
  /** QEMU device id; the chardev is `<id>-chr`. Also the id QMP device_del uses. */
  readonly id: string;
  /** The virtio-fs daemon's vhost-user unix socket (QEMU connects as client). */
  readonly socketPath: string;
  /** Mount tag seen by the guest (`mount -t virtiofs <tag> …`), at most 36 bytes. */
  readonly tag: string;
  readonly queueSize?: number;
  /**
   * A DAX window of this many MiB: `cache-size` of our QEMU's vhost-user-fs-pci (make vmm), a PCI
   * BAR the daemon maps files into (SHMEM_MAP). PCI only: virtio-mmio has no BAR to hold it.
   */
  readonly cacheSizeMiB?: number;
}

/**
 * A raw disk image QEMU opens read-only (`readonly=on`: every sandbox shares the one file, so no
 * guest may write it), seen by the guest as a virtio-blk disk with this serial.
 */
export interface ReadonlyDisk {
  /** QEMU drive id; the device is `<id>-blk`. */
  readonly id: string;
  readonly path: string;
  /** At most 20 bytes (virtio-blk's serial field). */
  readonly serial: string;
}

/**
 * A file QEMU maps read-only into guest physical memory as a virtio-pmem device (q35 only: QEMU 7.2
 * plugs memory devices only on PC machines). `readonly=on` opens and maps the file read-only, so
 * no guest can write what every sandbox maps; `share=on` maps the host page cache itself.
 */
export interface PmemDevice {
  /** The device id; its memory backend is `<id>-mem`. */
  readonly id: string;
  readonly path: string;
  /** The file's size, a multiple of PMEM_ALIGN: the whole file is the device. */
  readonly sizeBytes: number;
}

/** Where QEMU places the device and the size it must come in: the guest's fsdax wants 2 MiB. */
export const PMEM_ALIGN = 2 * 1024 * 1024;

/** A NIC on a tap the shim made in the pod's netns (QEMU runs there and opens the tap by name). */
export interface TapNetDevice {
  /** The netdev's id; the NIC is `<id>-nic`. */
  readonly id: string;
  readonly tap: string;
  /** The guest NIC's MAC: the pod interface's, which the agent finds it by. */
  readonly mac: string;
  /** In-kernel vhost-net, only when /dev/vhost-net works (else QEMU's userspace virtio-net). */
  readonly vhost: boolean;
}

export interface QemuConfig {
  readonly machine: Machine;
  readonly accel: Accel;
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly kernelPath: string;
  readonly initrdPath: string;
  /** Appended after the base command line, e.g. `vfs.mode=agent`. */
  readonly kernelArgs: readonly string[];
  /** Host TSC frequency; passed as tsc_early_khz so TCG guests skip (flaky) TSC calibration. */
  readonly tscKhz?: number;
  /** Defaults: `host` under KVM; under TCG `max,la57=off` (full ISA; 5-level paging costs ~8%). */
  readonly cpuModel?: string;
  readonly fsDevices: readonly VhostUserFsDevice[];
  readonly readonlyDisks?: readonly ReadonlyDisk[];
  readonly pmemDevices?: readonly PmemDevice[];
  readonly netDevices?: readonly TapNetDevice[];
  /** Unix socket QEMU listens on for the agent's virtio-serial port `agent.0`. */
  readonly agentSocketPath?: string;
  /** Unix socket QEMU listens on for QMP. */
  readonly qmpSocketPath?: string;
  /** The guest console (ttyS0) is written here by QEMU itself, so it outlives the shim. */
  readonly consoleLogPath: string;
  /**
   * A virtio-balloon with free page reporting: the guest reports the pages it frees and QEMU
   * discards them from guest RAM, so an idle guest keeps only what it uses resident on the host.
   */
  readonly freePageReporting?: boolean;
  /** q35 only: empty pcie-root-ports `hp0…hpN-1` for later hotplug of vhost-user-fs-pci. */
  readonly hotplugRootPorts?: number;
  readonly name?: string;
  /**
   * Guest RAM in this file, shared, instead of a memfd QEMU makes: a VM template's RAM (on tmpfs), or
   * a copy's memfd as /proc/self/fd/N (template/). The daemon maps it as it maps a memfd.
   */
  readonly memoryFile?: string;
  /** `-incoming defer`: the VM waits for its device state (a template's) instead of booting. */
  readonly incoming?: boolean;
}

const TAG_MAX_BYTES = 36;

/**
 * microvm-pcie has no ACPI for its root ports, so the guest drives their hotplug itself (native
 * PCIe hotplug, pciehp); q35 uses QEMU's ACPI hotplug, which ejects a device at device_del.
 */
export function nativePcieHotplug(machine: Machine): boolean {
  return machine === 'microvm-pcie';
}

/**
 * `console=ttyS0`: the 8250 serial port exists on every machine type from the first instruction;
 * `quiet` keeps TCG-emulated serial output off the boot path;
 * `panic=-1` + `-no-reboot` turn a guest panic into a QEMU exit instead of a hung VM.
 */
export function kernelCommandLine(config: QemuConfig): string {
  const args = ['console=ttyS0', 'quiet', 'cryptomgr.notests', 'panic=-1'];
  if (config.tscKhz !== undefined) args.push(`tsc_early_khz=${config.tscKhz}`);
  if (nativePcieHotplug(config.machine)) args.push('pcie_ports=native');
  // Memory devices sit above 4 GiB (maxmem), so the guest would set aside a 64 MiB swiotlb bounce
  // buffer, zeroed and so resident on the host, that no device here needs (no 32-bit DMA, no IOMMU).
  if ((config.pmemDevices ?? []).length > 0) args.push('swiotlb=noforce');
  // TCG keeps the code it translated from a guest page, found by the page's physical address (QEMU
  // 10.2's PC-relative blocks), until the guest CPU writes to that page. vfs-virtiofsd refills freed
  // pages with file data behind TCG's back, so a program run from a share could run code that page
  // held before (ARCHITECTURE.md, 'Translated code under TCG'). The guest zeroing each page it
  // allocates is such a write, and drops those translations before the back end fills the page.
  if (config.accel === 'tcg') args.push('init_on_alloc=1');
  return [...args, ...config.kernelArgs].join(' ');
}

export function buildQemuArgs(config: QemuConfig): string[] {
  validate(config);
  return [
    ...(config.name === undefined ? [] : ['-name', config.name]),
    ...baseArgs(),
    ...machineArgs(config),
    ...cpuAndMemoryArgs(config),
    ...bootArgs(config),
    ...consoleArgs(config.consoleLogPath),
    ...(config.readonlyDisks ?? []).flatMap((disk) => readonlyDiskArgs(config.machine, disk)),
    ...(config.pmemDevices ?? []).flatMap(pmemDeviceArgs),
    ...config.fsDevices.flatMap((dev) => fsDeviceArgs(config.machine, dev)),
    ...(config.netDevices ?? []).flatMap((dev) => netDeviceArgs(config.machine, dev)),
    ...(config.agentSocketPath === undefined ? [] : agentPortArgs(config.machine, config.agentSocketPath)),
    ...(config.qmpSocketPath === undefined ? [] : qmpArgs(config.qmpSocketPath)),
    ...rootPortArgs(config),
    // Last, so the devices before it keep the PCI addresses they had without it.
    ...(config.freePageReporting === true ? balloonArgs(config.machine) : []),
    ...(config.incoming === true ? ['-incoming', 'defer'] : []),
  ];
}

function validate(config: QemuConfig): void {
  if (!Number.isInteger(config.memoryMiB) || config.memoryMiB < 64) {
    throw new Error(`qemu config: memoryMiB must be an integer >= 64, got ${config.memoryMiB}`);
  }
  if (!Number.isInteger(config.vcpus) || config.vcpus < 1) {
    throw new Error(`qemu config: vcpus must be a positive integer, got ${config.vcpus}`);
  }
  if (config.hotplugRootPorts !== undefined && config.hotplugRootPorts > 0 && config.machine === 'microvm') {
    throw new Error(
      'qemu config: hotplugRootPorts needs machine microvm-pcie or q35 (microvm virtio-mmio cannot hotplug)',
    );
  }
  const ids = new Set<string>();
  for (const dev of config.fsDevices) {
    if (ids.has(dev.id)) throw new Error(`qemu config: duplicate fs device id ${dev.id}`);
    ids.add(dev.id);
    if (Buffer.byteLength(dev.tag) > TAG_MAX_BYTES || dev.tag.length === 0) {
      throw new Error(`qemu config: virtio-fs tag "${dev.tag}" must be 1..${TAG_MAX_BYTES} bytes`);
    }
    validateCacheSize(config.machine, dev);
  }
  for (const disk of config.readonlyDisks ?? []) {
    // virtio-blk's serial field holds 20 bytes; QEMU's option syntax and /init want no odd characters.
    if (!/^[A-Za-z0-9_-]{1,20}$/.test(disk.serial)) {
      throw new Error(`qemu config: disk serial "${disk.serial}" must be 1..20 of [A-Za-z0-9_-]`);
    }
  }
  for (const pmem of config.pmemDevices ?? []) {
    if (!machineMapsPmem(config.machine)) {
      throw new Error(
        `qemu config: virtio-pmem ${pmem.id} needs machine q35 (QEMU 7.2 does not map it on ${config.machine})`,
      );
    }
    if (!Number.isSafeInteger(pmem.sizeBytes) || pmem.sizeBytes <= 0 || pmem.sizeBytes % PMEM_ALIGN !== 0) {
      throw new Error(`qemu config: virtio-pmem ${pmem.path} is ${pmem.sizeBytes} bytes, not a multiple of 2 MiB`);
    }
  }
  for (const dev of config.netDevices ?? []) {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(dev.mac))
      throw new Error(`qemu config: NIC MAC "${dev.mac}" is malformed`);
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(dev.tap)) throw new Error(`qemu config: tap name "${dev.tap}" is malformed`);
  }
  for (const arg of config.kernelArgs) {
    if (/\s/.test(arg)) throw new Error(`qemu config: kernel argument "${arg}" contains whitespace`);
  }
  if (config.incoming === true && config.memoryFile === undefined) {
    throw new Error('qemu config: an incoming VM needs memoryFile (the template RAM it resumes from)');
  }
}

function validateCacheSize(machine: Machine, dev: VhostUserFsDevice): void {
  if (dev.cacheSizeMiB === undefined) return;
  if (mmio(machine)) {
    throw new Error(
      `qemu config: virtio-fs ${dev.tag}: a DAX window needs machine q35 (${machine} puts it on virtio-mmio)`,
    );
  }
  const problem = daxWindowProblem(dev.cacheSizeMiB);
  if (problem !== null) throw new Error(`qemu config: virtio-fs ${dev.tag}: DAX window: ${problem}`);
}

/** Values inside a -device/-chardev option list escape commas by doubling them. */
function optValue(value: string): string {
  return value.replaceAll(',', ',,');
}

function baseArgs(): string[] {
  return ['-nodefaults', '-no-user-config', '-nographic', '-no-reboot'];
}

/**
 * q35's built-in devices that no vfs guest uses: the AHCI controller, SMBus, VMware's I/O port, SMM
 * (SeaBIOS hands over to the PVH kernel without it) and the PS/2 controller. Each is QEMU heap and
 * emulation, and one less device for an untrusted guest to reach: 1.7 MiB less heap per QEMU.
 */
const Q35_UNUSED_DEVICES = 'sata=off,smbus=off,vmport=off,smm=off,i8042=off';

function machineArgs(config: QemuConfig): string[] {
  if (config.machine === 'microvm') {
    return ['-M', 'microvm,memory-backend=mem', '-global', 'virtio-mmio.force-legacy=false'];
  }
  if (config.machine === 'microvm-pcie') {
    return ['-M', 'microvm,pcie=on,memory-backend=mem', '-global', 'virtio-mmio.force-legacy=false'];
  }
  return ['-M', `q35,memory-backend=mem,${Q35_UNUSED_DEVICES}`];
}

function cpuAndMemoryArgs(config: QemuConfig): string[] {
  const cpu = config.cpuModel ?? (config.accel === 'kvm' ? 'host' : 'max,la57=off');
  return [
    '-accel',
    config.accel,
    '-cpu',
    cpu,
    '-smp',
    String(config.vcpus),
    '-m',
    memorySize(config),
    '-object',
    memoryBackend(config),
  ];
}

/** Shared (share=on) either way: the daemon maps guest RAM to reach the guest's buffers. */
function memoryBackend(config: QemuConfig): string {
  if (config.memoryFile === undefined) return `memory-backend-memfd,id=mem,size=${config.memoryMiB}M,share=on`;
  return `memory-backend-file,id=mem,size=${config.memoryMiB}M,mem-path=${optValue(config.memoryFile)},share=on`;
}

/** RAM, and with memory devices the address space they take beside it (`maxmem`; no slots: no DIMMs). */
function memorySize(config: QemuConfig): string {
  const pmemBytes = (config.pmemDevices ?? []).reduce((sum, pmem) => sum + pmem.sizeBytes, 0);
  if (pmemBytes === 0) return `${config.memoryMiB}M`;
  return `${config.memoryMiB}M,maxmem=${config.memoryMiB + pmemBytes / (1024 * 1024)}M`;
}

function bootArgs(config: QemuConfig): string[] {
  return ['-kernel', config.kernelPath, '-initrd', config.initrdPath, '-append', kernelCommandLine(config)];
}

function consoleArgs(logPath: string): string[] {
  return ['-chardev', `file,id=console,path=${optValue(logPath)}`, '-serial', 'chardev:console'];
}

function fsDeviceArgs(machine: Machine, dev: VhostUserFsDevice): string[] {
  const driver = mmio(machine) ? 'vhost-user-fs-device' : 'vhost-user-fs-pci';
  const queue = dev.queueSize === undefined ? '' : `,queue-size=${dev.queueSize}`;
  const cache = dev.cacheSizeMiB === undefined ? '' : `,${DAX_PROPERTY}=${daxCacheSize(dev.cacheSizeMiB)}`;
  return [
    '-chardev',
    `socket,id=${dev.id}-chr,path=${optValue(dev.socketPath)}`,
    '-device',
    `${driver},id=${dev.id},chardev=${dev.id}-chr,tag=${optValue(dev.tag)}${queue}${cache}`,
  ];
}

/** cache=writeback (QEMU's default) reads through the host page cache, which every sandbox shares. */
function readonlyDiskArgs(machine: Machine, disk: ReadonlyDisk): string[] {
  const driver = mmio(machine) ? 'virtio-blk-device' : 'virtio-blk-pci';
  return [
    '-drive',
    `file=${optValue(disk.path)},if=none,id=${disk.id},format=raw,readonly=on,cache=writeback`,
    '-device',
    `${driver},id=${disk.id}-blk,drive=${disk.id},serial=${disk.serial}`,
  ];
}

function pmemDeviceArgs(pmem: PmemDevice): string[] {
  return [
    '-object',
    `memory-backend-file,id=${pmem.id}-mem,mem-path=${optValue(pmem.path)},size=${pmem.sizeBytes},share=on,readonly=on,align=${PMEM_ALIGN}`,
    '-device',
    `virtio-pmem-pci,id=${pmem.id},memdev=${pmem.id}-mem`,
  ];
}

/** `script=no`: the tap exists and is wired already; QEMU only attaches to it. */
function netDeviceArgs(machine: Machine, dev: TapNetDevice): string[] {
  const driver = mmio(machine) ? 'virtio-net-device' : 'virtio-net-pci';
  return [
    '-netdev',
    `tap,id=${dev.id},ifname=${dev.tap},script=no,downscript=no,vhost=${dev.vhost ? 'on' : 'off'}`,
    '-device',
    `${driver},id=${dev.id}-nic,netdev=${dev.id},mac=${dev.mac}`,
  ];
}

/**
 * Two ports, not QEMU's default 31: number 0 is kept for a console, 1 is the agent's. Each port
 * allowed costs two virtqueues whether used or not, in QEMU's heap and in the guest's RAM (rings
 * and buffers): 1.1 MiB a sandbox.
 */
const AGENT_SERIAL_MAX_PORTS = 2;

function agentPortArgs(machine: Machine, socketPath: string): string[] {
  const bus = mmio(machine) ? 'virtio-serial-device' : 'virtio-serial-pci';
  return [
    '-device',
    `${bus},id=vser0,max_ports=${AGENT_SERIAL_MAX_PORTS}`,
    '-chardev',
    `socket,id=agent-chr,path=${optValue(socketPath)},server=on,wait=off`,
    '-device',
    `virtserialport,bus=vser0.0,chardev=agent-chr,name=${AGENT_PORT_NAME}`,
  ];
}

/** Never inflated (no target size is ever set), so deflate-on-oom would have nothing to give back. */
function balloonArgs(machine: Machine): string[] {
  const driver = mmio(machine) ? 'virtio-balloon-device' : 'virtio-balloon-pci';
  return ['-device', `${driver},id=balloon,free-page-reporting=on`];
}

function qmpArgs(socketPath: string): string[] {
  return [
    '-chardev',
    `socket,id=qmp-chr,path=${optValue(socketPath)},server=on,wait=off`,
    '-mon',
    'chardev=qmp-chr,mode=control',
  ];
}

function rootPortArgs(config: QemuConfig): string[] {
  const count = config.hotplugRootPorts ?? 0;
  return Array.from({ length: count }, (_, i) => [
    '-device',
    `pcie-root-port,id=hp${i},bus=pcie.0,chassis=${i + 1},slot=${i + 1}`,
  ]).flat();
}
