// `check`'s VM template line: whether sandboxes of this configuration resume a saved template
// ([factory] enable_template), or boot, and why.
import { ok, warn, type CheckResult } from './check_result';

const WHAT = 'VM template';

export interface TemplateState {
  readonly enabled: boolean;
  readonly dir: string;
  /** When it was saved; undefined: none is. */
  readonly savedAt?: string;
  /** Saved with this configuration and these guest files. */
  readonly matches: boolean;
}

export function checkTemplate(state: TemplateState): CheckResult {
  if (!state.enabled) return ok(WHAT, 'off ([factory] enable_template = false): sandboxes boot their VMs');
  if (state.savedAt === undefined) {
    return warn(
      WHAT,
      `enabled, but none is saved in ${state.dir}: sandboxes boot (vfs-runtime template create saves one)`,
    );
  }
  if (!state.matches) {
    return warn(
      WHAT,
      `the template in ${state.dir} was saved under another configuration or build: sandboxes boot (vfs-runtime template create replaces it)`,
    );
  }
  return ok(WHAT, `sandboxes resume ${state.dir} (saved ${state.savedAt})`);
}
