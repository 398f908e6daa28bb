// The guest boot contract: what the host tells the initramfs /init (agent/image/init.sh) on the
// kernel command line, and the console lines /init answers with. init.sh is shell, so
// agent/image/init_contract.test.ts reads it and proves it speaks what is written here.

/** What /init does after its start marker; a command line without vfs.mode is refused (the agent refuses too). */
export const BOOT_MODES = ['poweroff', 'script', 'agent'] as const;
export type BootMode = (typeof BOOT_MODES)[number];

/** The `vfs.<key>=<value>` words of the kernel command line /init reads. */
export const BOOT_ARG_KEYS = ['mode', 'tag', 'script', 'ro', 'runtime_tag', 'runtime_image', 'runtime_pmem'] as const;
type BootArgKey = (typeof BOOT_ARG_KEYS)[number];

/** The virtiofs tag of the runtime share (node, agent.js, the launcher) when vfs.runtime_tag is absent. */
export const DEFAULT_RUNTIME_TAG = 'vfsruntime';
/**
 * The virtio-blk serial of the runtime image (the runtime share's files as read-only erofs): with
 * vfs.runtime_image=<serial>, /init mounts that disk instead of the virtiofs share, so Node is paged
 * in from the host page cache rather than over FUSE. A serial, not /dev/vdX: probe order varies.
 */
export const RUNTIME_IMAGE_SERIAL = 'vfsruntime';
/** The runtime image's file system, as /init mounts it (`mount -t erofs`). */
export const RUNTIME_IMAGE_FS = 'erofs';
/**
 * With vfs.runtime_pmem=1 the runtime is the erofs image on the virtio-pmem device (build/runtime.pmem,
 * whose pfn info block makes the namespace fsdax), which /init mounts from /dev/pmem0 with dax: Node
 * is then mapped from the host page cache, one copy for every sandbox, instead of read into the guest's.
 */
export const RUNTIME_PMEM_DEVICE = '/dev/pmem0';
/**
 * The initramfs's static busybox (agent/image/build-initramfs.sh): the guest's own program, which
 * a warm-up container binds in as its `true` (no image needed). In agent mode a link to the same
 * busybox in the runtime, once /init goes on from there (init.sh, run_agent).
 */
export const GUEST_BUSYBOX = '/bin/busybox';
/** The virtio-serial port name /init looks for and hands to the agent as its /dev/vportNpM. */
export const AGENT_PORT_NAME = 'agent.0';
/**
 * What the agent logs on the console once it closed its port after a host left (a connection
 * that lasted 0.1 s), right before it opens the port for the next: a new host's calls sent after
 * it cannot be dropped by that close.
 */
export const AGENT_PORT_CLOSED = 'host connection closed; reopening the port';

/** A file system /init mounts (`mount -t <type> -o <options> <source> <target>`). */
export interface GuestMount {
  readonly type: string;
  readonly source: string;
  readonly target: string;
  /** mount(8)'s words: flags (nosuid, nodev, noexec) and the file system's own data. */
  readonly options: string;
}

export const GUEST_CGROUP_ROOT = '/sys/fs/cgroup';
/**
 * The bpffs where the launcher pins each device rule set's program (launcher/devices.c: loading
 * one runs the kernel's verifier, and most containers have the same rules), in the agent's mount
 * namespace only (a container's pivot leaves it behind).
 */
export const GUEST_DEVICE_PROGRAMS_DIR = '/run/vfs/device-programs';
/**
 * What the agent's containers need mounted, which /init mounts in agent mode before the agent
 * starts (ARCHITECTURE.md, 'The guest's file systems, mounted by /init'): cgroup2 (nsdelegate, for
 * each container's cgroup namespace), devpts (a terminal's /dev/ptmx) and the device programs'
 * bpffs (mode 0700). The agent checks them at its set-up and names what is missing.
 */
export const GUEST_MOUNTS: readonly GuestMount[] = [
  { type: 'cgroup2', source: 'cgroup2', target: GUEST_CGROUP_ROOT, options: 'nosuid,nodev,noexec,nsdelegate' },
  { type: 'devpts', source: 'devpts', target: '/dev/pts', options: 'nosuid,noexec,mode=0620,ptmxmode=0666,gid=5' },
  { type: 'bpf', source: 'bpf', target: GUEST_DEVICE_PROGRAMS_DIR, options: 'nosuid,nodev,noexec,mode=0700' },
];

export type BootArgs =
  /** Power off right after `vfs-init: start`: the bare-VM floor, the KVM probe. */
  | { readonly mode: 'poweroff' }
  /** Mount virtiofs `tag` at /mnt/share, run `sh <script>` there, print VFS-SCRIPT-EXIT, power off. */
  | { readonly mode: 'script'; readonly tag: string; readonly script: string; readonly readonly?: boolean }
  /**
   * Mount the runtime read-only and run its agent on port agent.0; power off when it exits. The
   * runtime is the pmem device with `runtimePmem`, else the virtio-blk disk with serial
   * `runtimeImage` when given, else the share `runtimeTag`.
   */
  | {
      readonly mode: 'agent';
      readonly runtimeTag?: string;
      readonly runtimeImage?: string;
      readonly runtimePmem?: boolean;
    };

/** /init splits its command line on whitespace, so a value with a blank would become another word. */
function word(key: BootArgKey, value: string): string {
  if (value === '' || /\s/.test(value)) throw new Error(`vfs.${key}: ${JSON.stringify(value)} is not one word`);
  return `vfs.${key}=${value}`;
}

/** The kernel command-line words for /init, appended after the kernel's own. */
export function bootArgs(args: BootArgs): string[] {
  switch (args.mode) {
    case 'poweroff':
      return [word('mode', 'poweroff')];
    case 'script':
      return [
        word('mode', 'script'),
        word('tag', args.tag),
        word('script', args.script),
        ...(args.readonly === true ? [word('ro', '1')] : []),
      ];
    case 'agent':
      return [
        word('mode', 'agent'),
        ...(args.runtimeTag === undefined ? [] : [word('runtime_tag', args.runtimeTag)]),
        ...(args.runtimeImage === undefined ? [] : [word('runtime_image', args.runtimeImage)]),
        ...(args.runtimePmem === true ? [word('runtime_pmem', '1')] : []),
      ];
  }
}

/**
 * The `vfs.mode` a kernel command line (/proc/cmdline) names, or undefined: the last word wins, as
 * in /init, which reads the words in order.
 */
export function bootModeOf(cmdline: string): BootMode | undefined {
  let mode: BootMode | undefined;
  for (const w of cmdline.split(/\s+/)) {
    if (!w.startsWith('vfs.mode=')) continue;
    const value = w.slice('vfs.mode='.length);
    mode = (BOOT_MODES as readonly string[]).includes(value) ? (value as BootMode) : undefined;
  }
  return mode;
}

/** The milestones /init marks on the console with the guest's uptime (CLOCK_BOOTTIME). */
export const INIT_MILESTONES = ['start', 'agent', 'poweroff'] as const;
export type InitMilestone = (typeof INIT_MILESTONES)[number];

/**
 * `vfs-init: <milestone> [detail] <uptime seconds>`, one line each; the agent's detail is its port.
 * Not anchored at the line's start: firmware may leave its last line open (q35's SeaBIOS prints
 * "Booting from ROM.." without a newline), so the first marker can follow it on that line.
 */
export const INIT_MARKERS: Readonly<Record<InitMilestone, RegExp>> = {
  start: /vfs-init: start (?<uptime>\d+(?:\.\d+)?)$/m,
  agent: /vfs-init: agent (?<port>\S+) (?<uptime>\d+(?:\.\d+)?)$/m,
  poweroff: /vfs-init: poweroff (?<uptime>\d+(?:\.\d+)?)$/m,
};
/** /init gave up (it powers off next, so the VMM always sees an exit). */
export const INIT_ERROR = /^vfs-init: error: (?<why>.*)$/m;
/**
 * How /init mounted the runtime, its /proc/mounts fields: `vfs-init: runtime /dev/pmem0 erofs
 * ro,…,dax=always`. Printed once, after the mount, before the agent marker.
 */
export const RUNTIME_MOUNT = /^vfs-init: runtime (?<source>\S+) (?<fs>\S+) (?<options>\S+)$/m;
/**
 * Node could not load the agent's startup snapshot (it exits 14: a blob built for other V8 flags
 * or CPU features, agent/runtime.mk), so /init starts the agent from agent.js: slower, but serving.
 */
export const AGENT_SNAPSHOT_REFUSED = /^vfs-init: agent\.blob did not load \(exit 14\): starting agent\.js$/m;
/** The agent ended with this wait status (or `unknown`); /init powers off next. */
export const AGENT_EXITED = /^vfs-init: agent exited with (?<status>\S+)$/m;
/** Script mode: the script's exit status. */
export const SCRIPT_EXIT = /^VFS-SCRIPT-EXIT=(?<status>\d+)$/m;

/** Guest uptime in seconds at the milestone's first marker in `console`, if it is there. */
export function markerUptime(console: string, milestone: InitMilestone): number | undefined {
  const uptime = INIT_MARKERS[milestone].exec(console)?.groups?.uptime;
  return uptime === undefined ? undefined : Number(uptime);
}

export function scriptExitStatus(console: string): number | undefined {
  const status = SCRIPT_EXIT.exec(console)?.groups?.status;
  return status === undefined ? undefined : Number(status);
}

export function agentExitStatus(console: string): string | undefined {
  return AGENT_EXITED.exec(console)?.groups?.status;
}
