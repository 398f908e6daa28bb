// vfs-runtime's commands: parse, run, and turn any error into one `vfs-runtime: …` line on
// stderr and exit status 1.
import { errorMessage, VFS_VERSION } from '@vfs/contracts';
import { type Command, parseCommand } from './args';
import { runCheck } from './check/run_check';
import type { CliIo } from './cli_io';
import { runEnv } from './env/run_env';
import { runPool } from './pool/run_pool';
import { runTemplate } from './template/run_template';
import { USAGE, UsageError } from './usage';
import { runVolume } from './volume/run_volume';

function run(io: CliIo, command: Command): Promise<number> {
  switch (command.name) {
    case 'help':
      io.out(USAGE);
      return Promise.resolve(0);
    case 'version':
      io.out(`vfs-runtime ${VFS_VERSION}\n`);
      return Promise.resolve(0);
    case 'check':
      return runCheck(io);
    case 'env':
      return runEnv(io, command.json);
    case 'pool serve':
    case 'pool status':
      return runPool(io, command);
    case 'template create':
    case 'template status':
    case 'template remove':
      return runTemplate(io, command);
    default:
      return runVolume(io, command);
  }
}

/** The exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await run(io, parseCommand(argv));
  } catch (err) {
    const hint = err instanceof UsageError ? "\nvfs-runtime: 'vfs-runtime --help' lists the commands" : '';
    io.err(`vfs-runtime: ${errorMessage(err)}${hint}\n`);
    return 1;
  }
}
