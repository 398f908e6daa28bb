// The shim program around a SandboxRuntime: `start` and `delete` are short commands whose stdout
// containerd parses; without an action this is the long-running server `start` spawned. The
// product's entry point (main.ts) passes the VM runtime; tests build their own entry point with
// a host-process runtime, so no product binary loads code chosen at run time. `start` is on every
// container's critical path: the server and `delete` (and the runtime) load only when they run.

import { errorMessage } from '@vfs/contracts';
import { start } from './bootstrap';
import { parseFlags, type ShimFlags } from './flags';
import type { SandboxRuntimeFactory } from './sandbox_runtime';
import { SHIM_NAME, SHIM_VERSION } from './version';

/** Loads the sandbox runtime: only the server needs it. */
export type SandboxRuntimeLoader = () => Promise<SandboxRuntimeFactory>;

async function run(flags: ShimFlags, loadRuntime: SandboxRuntimeLoader): Promise<void> {
  switch (flags.action) {
    case 'version':
      process.stdout.write(`${SHIM_NAME}:\n  Version:  ${SHIM_VERSION}\n  Runtime:  node ${process.version}\n`);
      return;
    case 'start':
      process.stdout.write(await start(flags));
      return;
    case 'delete': {
      const [{ containerLogger, stderrLogger }, { deleteAfterShim }] = await Promise.all([
        import('./logger.js'),
        import('./cleanup.js'),
      ]);
      const log = containerLogger(stderrLogger({ level: flags.debug ? 'debug' : 'warn', sandboxId: '' }), flags.id);
      process.stdout.write(await deleteAfterShim(flags, log));
      return;
    }
    case 'serve': {
      const [{ serve }, runtime] = await Promise.all([import('./serve.js'), loadRuntime()]);
      await serve(flags, runtime);
      return;
    }
  }
}

function fail(err: unknown): never {
  process.stderr.write(`${SHIM_NAME}: ${errorMessage(err)}\n`);
  process.exit(1);
}

/** Runs the shim with the command line of this process; the loaded runtime serves the sandbox. */
export function runShim(loadRuntime: SandboxRuntimeLoader): void {
  try {
    const flags = parseFlags(process.argv.slice(2));
    run(flags, loadRuntime).then(() => {
      // start and delete are done once they answered; the server keeps running on its own handles.
      if (flags.action !== 'serve') process.exit(0);
    }, fail);
  } catch (err) {
    fail(err);
  }
}
