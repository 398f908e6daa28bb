// Entering the private root. namespace mode: pivot_root, then detach the host's root so no path
// leads back to it. chroot mode (no mount namespace of our own to pivot in): chroot; the
// capability that could undo it (CAP_SYS_CHROOT) is dropped and chroot is not in the seccomp list.
import { chroot, MNT_DETACH, pivotRoot, umount2 } from '../sys/mount';

export function pivotInto(newRoot: string): void {
  process.chdir(newRoot);
  // pivot_root(".", "."): the old root ends up stacked on the new one, then is detached.
  pivotRoot('.', '.');
  umount2('.', MNT_DETACH);
  process.chdir('/');
}

export function chrootInto(newRoot: string): void {
  process.chdir(newRoot);
  chroot('.');
  process.chdir('/');
}
