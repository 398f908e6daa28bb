// vfs-runtime: the program beside the shim, as kata-runtime is beside Kata's: `check` the host,
// print the effective configuration (`env`), add volumes to running containers (`volume`).
import { runCli } from './cli';
import { processIo } from './cli_io';

runCli(process.argv.slice(2), processIo()).then((status) => {
  process.exitCode = status;
});
