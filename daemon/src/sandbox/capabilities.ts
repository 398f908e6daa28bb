// After the sandbox is built the daemon keeps only the capabilities a passthrough file system
// needs, the set virtiofsd keeps: ownership and mode changes on behalf of the guest, setfsuid /
// setfsgid per request, and mknod (overlayfs whiteouts are 0:0 character devices). Capabilities
// are per thread: threads started later (every device Worker) inherit the reduced set.
import { limitCapabilities } from '../sys/security';

const CAP_CHOWN = 0;
const CAP_DAC_OVERRIDE = 1;
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

export function dropCapabilities(): void {
  limitCapabilities(KEPT_CAPABILITIES);
}
