// `vfs-bench`: the experiment tool for researchers. `vfs-bench coldstart …` measures cold starts
// over a matrix of settings (coldstart/coldstart.ts), or with --density how many idle sandboxes
// fit in a memory budget.

import { errorMessage } from '@vfs/contracts';
import { runBench } from '../bench_common/bench_main';
import { coldstart } from './coldstart/coldstart';
import { parseColdstartArgs, USAGE as COLDSTART_USAGE } from './coldstart/coldstart_args';

const USAGE = `usage: vfs-bench <experiment> [options]\n\nexperiments:\n  coldstart   start times over a matrix of settings, or --density\n\n${COLDSTART_USAGE}\n`;

function main(argv: readonly string[]): void {
  const [command, ...rest] = argv;
  if (command === 'help' || command === '--help' || rest.includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  if (command !== 'coldstart') {
    process.stderr.write(
      `vfs-bench: ${command === undefined ? 'no experiment named' : `unknown experiment '${command}'`}\n${USAGE}`,
    );
    process.exit(2);
  }
  let args: ReturnType<typeof parseColdstartArgs>;
  try {
    args = parseColdstartArgs(rest);
  } catch (err) {
    process.stderr.write(`vfs-bench coldstart: ${errorMessage(err)}\n`);
    process.exit(2);
  }
  runBench('vfs-bench coldstart', '/tmp/vfs-bench-cs-', (scope) => coldstart(scope, args));
}

main(process.argv.slice(2));
