// After the sandbox is built the daemon keeps only the capabilities a passthrough file system
// needs, the set virtiofsd keeps: ownership and mode changes on behalf of the guest, setfsuid /
// setfsgid per request, mknod (overlayfs whiteouts are 0:0 character devices), and, as virtiofsd
// does only then, opening file handles while inodes are held by them (--inode-file-handles).
// Capabilities are per thread: threads started later (V8's and libuv's) inherit the reduced set.
import { hasEffectiveCapability, limitCapabilities } from '../sys/security';

const CAP_CHOWN = 0;
const CAP_DAC_OVERRIDE = 1;
/** open_by_handle_at(2) needs it. */
const CAP_DAC_READ_SEARCH = 2;
const CAP_FOWNER = 3;
const CAP_FSETID = 4;
const CAP_SETGID = 6;
const CAP_SETUID = 7;
const CAP_MKNOD = 27;
const CAP_SETFCAP = 31;

export const KEPT_CAPABILITIES: readonly number[] = [
  CAP_CHOWN,
  CAP_DAC_OVERRIDE,
  CAP_FOWNER,
  CAP_FSETID,
  CAP_SETGID,
  CAP_SETUID,
  CAP_MKNOD,
  CAP_SETFCAP,
];

/**
 * The set kept; CAP_DAC_READ_SEARCH only with file handles in use: with it and any fd on a mount,
 * open_by_handle_at reaches every inode of that file system, not only those below the share.
 */
export function keptCapabilities(fileHandles: boolean): readonly number[] {
  return fileHandles ? [...KEPT_CAPABILITIES, CAP_DAC_READ_SEARCH] : KEPT_CAPABILITIES;
}

export function dropCapabilities(fileHandles: boolean): void {
  limitCapabilities(keptCapabilities(fileHandles));
}

/** Whether this thread may open file handles: with fsuid 0, CAP_DAC_READ_SEARCH is effective. */
export function canOpenFileHandles(): boolean {
  return hasEffectiveCapability(CAP_DAC_READ_SEARCH);
}
