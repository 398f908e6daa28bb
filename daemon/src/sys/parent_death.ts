// The parent-death signal unshare --kill-child gives the daemon (SIGKILL when unshare dies: what a
// supervisor that started it so relies on). The kernel clears it on any change of the thread's
// uids, gids or fs ids: the sandbox's, and each request served as another user. So it is read
// once, before any, and set again after each.
import { check, libc } from './libc';

const PR_SET_PDEATHSIG = 1;
const PR_GET_PDEATHSIG = 2;

const prctlSet = libc.func(
  'int prctl(int option, unsigned long sig, unsigned long a3, unsigned long a4, unsigned long a5)',
);
const prctlGet = libc.func(
  'int prctl(int option, _Out_ int *sig, unsigned long a3, unsigned long a4, unsigned long a5)',
);

let remembered = 0;

/** Reads the calling thread's signal and keeps it for restoreParentDeathSignal; 0 for none. */
export function rememberParentDeathSignal(): number {
  const sig = [0];
  check(prctlGet(PR_GET_PDEATHSIG, sig, 0, 0, 0), 'prctl(PR_GET_PDEATHSIG)');
  remembered = sig[0] as number;
  return remembered;
}

/** Sets the remembered signal again on the calling thread; nothing when there was none. */
export function restoreParentDeathSignal(): void {
  if (remembered !== 0)
    check(prctlSet(PR_SET_PDEATHSIG, remembered, 0, 0, 0), `prctl(PR_SET_PDEATHSIG, ${remembered})`);
}
