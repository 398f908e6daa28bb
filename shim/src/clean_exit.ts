// The mark a shim leaves in its bundle once its Shutdown released everything: containerd's
// `… delete` after the shim's exit then has nothing to do, and the shim's first lines (a /bin/sh
// prologue, scripts/bundle.cjs SHIM_SHEBANG) answer it without starting Node.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Named in scripts/bundle.cjs's SHIM_SHEBANG too. */
export const CLEAN_EXIT_MARKER = 'shim-shutdown-clean';

/** Written last, when no process, mount, socket or state of the sandbox is left. */
export function markCleanExit(bundle: string): void {
  writeFileSync(join(bundle, CLEAN_EXIT_MARKER), '');
}

/** A mark from an earlier shim of the same bundle must not speak for this one. */
export function clearCleanExit(bundle: string): void {
  rmSync(join(bundle, CLEAN_EXIT_MARKER), { force: true });
}
