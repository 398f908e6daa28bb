// containerd-shim-vfs-v2: the entry point. `start` and `delete` are short commands whose stdout
// containerd parses; without an action this is the long-running server `start` spawned.

import { deleteAfterShim } from './cleanup';
import { start } from './bootstrap';
import { parseFlags, type ShimFlags } from './flags';
import { containerLogger, stderrLogger } from './logger';
import { serve } from './serve';
import { SHIM_NAME, SHIM_VERSION } from './version';

async function run(flags: ShimFlags): Promise<void> {
  switch (flags.action) {
    case 'version':
      process.stdout.write(`${SHIM_NAME}:\n  Version:  ${SHIM_VERSION}\n  Runtime:  node ${process.version}\n`);
      return;
    case 'start':
      process.stdout.write(await start(flags));
      return;
    case 'delete': {
      const log = containerLogger(stderrLogger({ level: flags.debug ? 'debug' : 'warn', sandboxId: '' }), flags.id);
      process.stdout.write(await deleteAfterShim(flags, log));
      return;
    }
    case 'serve':
      await serve(flags);
      return;
  }
}

function fail(err: unknown): never {
  process.stderr.write(`${SHIM_NAME}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

try {
  const flags = parseFlags(process.argv.slice(2));
  run(flags).then(() => {
    // start and delete are done once they answered; the server keeps running on its own handles.
    if (flags.action !== 'serve') process.exit(0);
  }, fail);
} catch (err) {
  fail(err);
}
