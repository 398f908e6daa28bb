// The shim's version, reported by `-v` and Connect: the vfs release (contracts' VFS_VERSION).
import { VFS_VERSION } from '@vfs/contracts';

export const SHIM_VERSION = VFS_VERSION;
export const SHIM_NAME = 'containerd-shim-vfs-v2';
