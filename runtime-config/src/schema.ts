// What configuration.toml may contain: every table, every key, its type and its built-in default.
// The loader rejects anything not listed here, so a typo is an error instead of a silent default.

import { CACHE_MODES, daxWindowProblem, idMapProblem, MAX_DAX_MIN_FILE_KIB, MAX_DAX_WINDOW_MIB } from '@vfs/contracts';
import { GUEST_RUNTIMES } from './guest_runtime';

/**
 * How one key is read: `read` returns undefined when the TOML value has the wrong type or range;
 * `problem`, when given, then says what is wrong with a value of the right type (null: nothing).
 */
export interface Field<T> {
  readonly expected: string;
  readonly fallback: T;
  read(value: unknown): T | undefined;
  problem?(value: T): string | null;
}

function stringField(fallback: string): Field<string> {
  return { expected: 'a string', fallback, read: (v) => (typeof v === 'string' ? v : undefined) };
}

/** A path that may be relative: relative ones are resolved against the install root (install_root.ts). */
function pathField(fallback: string): Field<string> {
  return {
    expected: 'a non-empty path string',
    fallback,
    read: (v) => (typeof v === 'string' && v.length > 0 ? v : undefined),
  };
}

function enumField<const V extends string>(values: readonly V[], fallback: V): Field<V> {
  return {
    expected: `one of ${values.map((v) => `"${v}"`).join(', ')}`,
    fallback,
    read: (v) => values.find((allowed) => allowed === v),
  };
}

function intField(min: number, max: number, fallback: number): Field<number> {
  return {
    expected: `an integer from ${min} to ${max}`,
    fallback,
    read: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined),
  };
}

/** virtiofsd's --translate-uid / --translate-gid rules, checked by the daemon's own grammar. */
function idMapField(): Field<readonly string[]> {
  return {
    expected: 'an array of rule strings such as ["map:1000:101000:1"]',
    fallback: [],
    read: (v) => (Array.isArray(v) && v.every((r) => typeof r === 'string') ? v : undefined),
    problem: idMapProblem,
  };
}

/** 0, or a window the daemon and QEMU take (contracts dax_window.ts: a power of two, a PCI BAR). */
function daxWindowField(): Field<number> {
  return { ...intField(0, MAX_DAX_WINDOW_MIB, 0), problem: (mib) => (mib === 0 ? null : daxWindowProblem(mib)) };
}

function boolField(fallback: boolean): Field<boolean> {
  return { expected: 'true or false', fallback, read: (v) => (typeof v === 'boolean' ? v : undefined) };
}

function boolOrAutoField(fallback: boolean | 'auto'): Field<boolean | 'auto'> {
  return {
    expected: 'true, false or "auto"',
    fallback,
    read: (v) => (typeof v === 'boolean' || v === 'auto' ? v : undefined),
  };
}

export const CONFIG_SCHEMA = {
  hypervisor: {
    path: pathField('qemu-system-x86_64'),
    /**
     * q35 by default: the one machine where QEMU 7.2 maps the runtime as virtio-pmem with DAX,
     * which outweighs microvm's faster boot (ARCHITECTURE.md, "The runtime on virtio-pmem").
     */
    machine: enumField(['microvm-pcie', 'microvm', 'q35'], 'q35'),
    /** Empty PCIe root ports for volumes added to running containers (vfs-runtime volume add); none on microvm. */
    hotplug_slots: intField(0, 32, 4),
    accel: enumField(['auto', 'kvm', 'tcg'], 'auto'),
    memory_mib: intField(64, 262144, 512),
    vcpus: intField(1, 256, 1),
    kernel: pathField('build/guest/vmlinux'),
    initramfs: pathField('build/guest/initramfs.cpio.lz4'),
    /** Appended to the kernel command line the shim builds. */
    kernel_params: stringField(''),
    /**
     * Kata's key: a virtio-balloon device with free page reporting, through which the guest hands
     * the pages it frees back to the host (QEMU punches them out of the memfd guest RAM). On by
     * default: a guest that freed 128 MiB keeps ≈120 MiB less resident on the host; a freshly
     * booted idle guest has freed next to nothing, and boots no slower (ARCHITECTURE.md, issue 10).
     */
    reclaim_guest_freed_memory: boolField(true),
  },
  daemon: {
    path: pathField('build/bin/vfs-virtiofsd'),
    cache: enumField(CACHE_MODES, 'auto'),
    sandbox: enumField(['namespace', 'chroot', 'none'], 'namespace'),
    /** 0 serves requests on the vhost-user thread itself (Kata measured 1 faster than 64). */
    thread_pool_size: intField(0, 1024, 1),
    /**
     * The DAX window of each container share (image layers and the read-write data share), MiB;
     * 0 turns DAX off. Needs q35 (the window is a PCI BAR of vhost-user-fs-pci) and our QEMU
     * (`make vmm`: its cache-size property); `vfs-runtime check` says whether hypervisor.path has it.
     */
    dax_window_mib: daxWindowField(),
    /**
     * Per-inode DAX, with dax_window_mib: only regular files of at least this many KiB go through the
     * window (the guest mounts the shares dax=inode), smaller ones through the guest page cache, as
     * each mapping costs a whole 2 MiB range set up through the daemon and QEMU. 0 = every file
     * (dax=always).
     */
    dax_min_file_kib: intField(0, MAX_DAX_MIN_FILE_KIB, 0),
    /**
     * With cache "none" or "metadata" (files opened direct-I/O): let the guest map files shared and
     * writable, through its page cache (the daemon's --allow-mmap, FUSE_DIRECT_IO_ALLOW_MMAP). Off,
     * such an mmap fails with ENODEV in the guest. The guest's cached pages are then not kept
     * coherent with writes made on the host: for shares the guest alone writes.
     */
    allow_mmap: boolField(false),
    /**
     * POSIX ACLs on the container shares (the daemon's --posix-acl): the guest kernel enforces the
     * ACLs of host files and volumes, and files made in a directory with a default ACL take it, as
     * under runc. Off, ACLs are neither enforced nor settable in the guest.
     */
    posix_acl: boolField(false),
    /** Guest↔host uid and gid translation, without a user namespace (the daemon's --translate-uid/gid). */
    translate_uid: idMapField(),
    translate_gid: idMapField(),
  },
  agent: {
    /** From QEMU's launch until the agent answers Check: covers the guest boot (≈2 s under TCG). */
    dial_timeout_ms: intField(100, 600000, 30000),
    request_timeout_ms: intField(100, 3600000, 60000),
    /**
     * Where the guest's Node and agent come from: "share", the virtiofs runtime share (build/runtime,
     * paged in over FUSE through the daemon); "image", the read-only erofs disk `make runtime` builds
     * (build/runtime.erofs, paged from the host page cache into each guest's); "pmem", the same image
     * behind a pfn info block (build/runtime.pmem) on a read-only virtio-pmem device the guest mounts
     * with DAX: Node is mapped from the host page cache, one copy for every sandbox and none in any
     * guest (q35 only: QEMU 7.2 maps memory devices only on PC machines). "auto": pmem on q35, else
     * the share (guest_runtime.ts). Measured under TCG: pmem's agent starts ≈0.8 s sooner and each
     * sandbox holds ≈26 MiB less (ARCHITECTURE.md).
     */
    runtime: enumField(['auto', ...GUEST_RUNTIMES], 'auto'),
  },
  pool: {
    /** Booted, unused VMs that `vfs-runtime pool serve` keeps ready for new sandboxes; 0: no pool. */
    size: intField(0, 64, 0),
    /**
     * How long after a hand-out the pool waits before it boots the replacement: the VM just handed
     * out is starting its first container, and a boot beside it takes the CPU that start needs.
     */
    refill_delay_ms: intField(0, 60_000, 1000),
  },
  factory: {
    /**
     * Kata's VM template: a sandbox resumes a copy of a VM booted and saved once by `vfs-runtime
     * template create` instead of booting its own (the guest's boot, ≈ 2–4 s under TCG, is skipped).
     * Used when a template saved with this configuration exists; otherwise the sandbox boots.
     */
    enable_template: boolField(false),
    /** Where the template is saved: on tmpfs, since each sandbox copies its RAM from there. */
    template_path: pathField('/dev/shm/vfs-template'),
  },
  runtime: {
    log_level: enumField(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], 'info'),
    /** gRPC (task v3) to containerd: "auto" uses it where containerd's gRPC shim client works (1.7). */
    grpc: boolOrAutoField('auto'),
    /**
     * Kata's key: boot each sandbox's VM with its workload's limits on top of [hypervisor]'s
     * memory_mib and vcpus (a pod's summed limits, or a lone container's), capped at the host's, so
     * a container can use what its limits allow. Off: every VM has the base size.
     */
    static_sandbox_resource_mgmt: boolField(true),
    /**
     * Kata's key: the sandbox's host processes (shim, daemon, QEMU) run in the cgroup its spec names
     * (a pod's, under the pod cgroup), so the host charges the VM to the pod. Off: they stay in
     * the shim's cgroups, and CRI's PodSandboxStats sees none of the VM.
     */
    sandbox_cgroup_only: boolField(true),
  },
} as const;

export type ConfigSchema = typeof CONFIG_SCHEMA;
export type TableName = keyof ConfigSchema;

type ValueOf<F> = F extends Field<infer T> ? T : never;

/** The loaded configuration: the schema's shape with each field's value type, keys as in the file. */
export type VfsConfig = {
  readonly [T in TableName]: { readonly [K in keyof ConfigSchema[T]]: ValueOf<ConfigSchema[T][K]> };
};

export interface LoadedConfig {
  readonly config: VfsConfig;
  /** Where it came from: a path, `VFS_CONFIG=…`, or `built-in defaults`. */
  readonly source: string;
}
