// Whether a QEMU binary can give a virtio-fs export a DAX window, shared by `vfs-runtime check`
// and the shim. Upstream vhost-user-fs-pci has no window; ours (`make vmm`, vmm/patches) adds
// Kata's `cache-size` property, a 64-bit prefetchable BAR the back end maps files into with
// vhost-user SHMEM_MAP. QEMU lists a device's properties itself, so the property is the proof.

/** Our QEMU, where `make vmm` (vmm/build.sh) installs it: the stable link to its versioned prefix. */
export const OUR_QEMU = '/opt/vfs/qemu/bin/qemu-system-x86_64';

/** The device that carries a container share, and the property that gives it a DAX window. */
export const DAX_DEVICE = 'vhost-user-fs-pci';
export const DAX_PROPERTY = 'cache-size';

/** Arguments that make QEMU list DAX_DEVICE's properties, one `  name=<type> …` line each. */
export const QEMU_DAX_PROBE_ARGS: readonly string[] = ['-device', `${DAX_DEVICE},help`];

/** The property names in QEMU's `-device NAME,help` output (other lines are ignored). */
export function devicePropertyNames(help: string): Set<string> {
  return new Set(Array.from(help.matchAll(/^\s+([\w.-]+)=</gm), (m) => m[1] as string));
}

/** `-device vhost-user-fs-pci,help` lists `cache-size`. */
export function qemuCanDax(properties: ReadonlySet<string>): boolean {
  return properties.has(DAX_PROPERTY);
}

/** The value of DAX_PROPERTY for a window of `mib` MiB (QEMU's size syntax). */
export function daxCacheSize(mib: number): string {
  return `${mib}M`;
}
