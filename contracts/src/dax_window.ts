// The size of an export's DAX window (its VIRTIO shared-memory region 0), as the command line and
// the control protocol give it: MiB, whole 2 MiB chunks because the guest kernel carves the
// window into 2 MiB ranges (FUSE_DAX_SZ) and would leave a remainder unused, and a power of two
// because QEMU exposes the window as a PCI BAR (vhost-user-fs-pci cache-size).

export const DAX_CHUNK_MIB = 2;
/** For a control-protocol `add` with dax on and no size; the guest spends 4 MiB of RAM on its struct pages. */
export const DEFAULT_DAX_WINDOW_MIB = 256;
/** The guest spends 1/64 of the window on struct pages: beyond 64 GiB that is 1 GiB of its RAM. */
export const MAX_DAX_WINDOW_MIB = 65536;

/** Why `mib` is not a usable window size, or null when it is. */
export function daxWindowProblem(mib: number): string | null {
  if (!Number.isInteger(mib) || mib <= 0) return `expected a positive whole number of MiB, got ${mib}`;
  if (mib % DAX_CHUNK_MIB !== 0) return `${mib} MiB is not a multiple of the guest's ${DAX_CHUNK_MIB} MiB DAX ranges`;
  if ((mib & (mib - 1)) !== 0) return `${mib} MiB is not a power of two (QEMU's DAX window is a PCI BAR)`;
  if (mib > MAX_DAX_WINDOW_MIB) return `${mib} MiB exceeds the limit of ${MAX_DAX_WINDOW_MIB} MiB`;
  return null;
}

export function daxWindowBytes(mib: number): number {
  return mib * 1024 * 1024;
}

/**
 * The per-inode DAX threshold (`dax=inode`): regular files of at least this many KiB go through the
 * window, smaller ones through the guest page cache (a small file would cost a whole 2 MiB mapping).
 * 0 = every file (`dax=always`). Bounded by the largest window's size, 64 GiB.
 */
export const MAX_DAX_MIN_FILE_KIB = MAX_DAX_WINDOW_MIB * 1024;

/** Why `kib` is not a usable per-inode DAX threshold, or null when it is. */
export function daxMinFileProblem(kib: number): string | null {
  if (!Number.isInteger(kib) || kib < 0) return `expected a whole number of KiB (0 = every file), got ${kib}`;
  if (kib > MAX_DAX_MIN_FILE_KIB) return `${kib} KiB exceeds the limit of ${MAX_DAX_MIN_FILE_KIB} KiB`;
  return null;
}

/** The guest's virtiofs `dax=` mount mode for a threshold: per inode when one is set. */
export function guestDaxMode(minFileKiB: number): 'always' | 'inode' {
  return minFileKiB > 0 ? 'inode' : 'always';
}
