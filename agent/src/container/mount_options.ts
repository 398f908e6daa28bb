/** OCI mount options (fstab words) to mount(2) flags, propagation flags and fs data, as runc reads them. */

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOSYMFOLLOW = 0x100;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_UNBINDABLE = 0x2_0000;
export const MS_PRIVATE = 0x4_0000;
export const MS_SLAVE = 0x8_0000;
export const MS_SHARED = 0x10_0000;
export const MS_RELATIME = 0x20_0000;
export const MS_STRICTATIME = 0x100_0000;
export const MS_LAZYTIME = 0x200_0000;

const SETS: Readonly<Record<string, number>> = {
  ro: MS_RDONLY,
  nosuid: MS_NOSUID,
  nodev: MS_NODEV,
  noexec: MS_NOEXEC,
  sync: MS_SYNCHRONOUS,
  remount: MS_REMOUNT,
  mand: MS_MANDLOCK,
  dirsync: MS_DIRSYNC,
  nosymfollow: MS_NOSYMFOLLOW,
  noatime: MS_NOATIME,
  nodiratime: MS_NODIRATIME,
  bind: MS_BIND,
  rbind: MS_BIND | MS_REC,
  relatime: MS_RELATIME,
  strictatime: MS_STRICTATIME,
  lazytime: MS_LAZYTIME,
};

const CLEARS: Readonly<Record<string, number>> = {
  rw: MS_RDONLY,
  suid: MS_NOSUID,
  dev: MS_NODEV,
  exec: MS_NOEXEC,
  async: MS_SYNCHRONOUS,
  nomand: MS_MANDLOCK,
  atime: MS_NOATIME,
  diratime: MS_NODIRATIME,
  norelatime: MS_RELATIME,
  nostrictatime: MS_STRICTATIME,
  nolazytime: MS_LAZYTIME,
  symfollow: MS_NOSYMFOLLOW,
};

const PROPAGATION: Readonly<Record<string, number>> = {
  private: MS_PRIVATE,
  rprivate: MS_PRIVATE | MS_REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | MS_REC,
  slave: MS_SLAVE,
  rslave: MS_SLAVE | MS_REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | MS_REC,
};

export interface ParsedMountOptions {
  readonly flags: number;
  /** Applied by a separate mount(2) call after the mount exists. */
  readonly propagation: number;
  /** Filesystem-specific options (size=, mode=, …), comma-joined. */
  readonly data: string;
}

export function parseMountOptions(options: readonly string[]): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const option of options) {
    if (option === 'defaults') continue;
    if (option in SETS) flags |= SETS[option] as number;
    else if (option in CLEARS) flags &= ~(CLEARS[option] as number);
    else if (option in PROPAGATION) propagation = PROPAGATION[option] as number;
    else data.push(option);
  }
  return { flags, propagation, data: data.join(',') };
}
