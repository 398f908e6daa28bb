// The shim program around a SandboxRuntime: containerd runs `start`, which answers and then serves
// the sandbox in the same process (or answers with a running sandbox's address and exits), and
// `delete`, whose stdout containerd parses. The product's entry point (main.ts) passes the VM
// runtime; tests build their own entry point with a host-process runtime, so no product binary
// loads code chosen at run time. `start` is on every container's critical path: the server, its
// runtime and `delete` load only when they run.

import { errorMessage } from '@vfs/contracts';
import { readFileSync } from 'node:fs';
import { requireAnswerPipe, type SandboxRuntimeLoader, start, tellContainerd } from './bootstrap';
import { parseFlags, type ShimFlags } from './flags';
import { SHIM_NAME, SHIM_VERSION } from './version';

/** Resolves whether the process keeps running (it serves a sandbox). */
async function run(flags: ShimFlags, loadRuntime: SandboxRuntimeLoader): Promise<boolean> {
  switch (flags.action) {
    case 'version':
      process.stdout.write(`${SHIM_NAME}:\n  Version:  ${SHIM_VERSION}\n  Runtime:  node ${process.version}\n`);
      return false;
    case 'start': {
      requireAnswerPipe();
      const { answer, serving } = await start(flags, loadRuntime, readFileSync(0));
      tellContainerd(answer);
      return serving;
    }
    case 'spare': {
      const { runSpare } = await import('./spare_shim.js');
      return runSpare(flags.id, loadRuntime);
    }
    case 'delete': {
      const [{ containerLogger, stderrLogger }, { deleteAfterShim }] = await Promise.all([
        import('./logger.js'),
        import('./cleanup.js'),
      ]);
      const log = containerLogger(stderrLogger({ level: flags.debug ? 'debug' : 'warn', sandboxId: '' }), flags.id);
      process.stdout.write(await deleteAfterShim(flags, log));
      return false;
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
    run(flags, loadRuntime).then((serving) => {
      // The server keeps running on its own handles; everything else is done once it answered.
      if (!serving) process.exit(0);
    }, fail);
  } catch (err) {
    fail(err);
  }
}
