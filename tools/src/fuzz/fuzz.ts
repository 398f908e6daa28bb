// vfs-fuzz (`make fuzz ARGS="…"`): the structure-aware fuzzer of vfs-virtiofsd (fuzz_run.ts).
// Exit status 1 when it found a crash, hang, resource or escape finding, 2 on a usage error.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@vfs/contracts';
import { FuzzUsageError, parseFuzzArgs, reproduceExtra, USAGE } from './fuzz_args';
import { formatReport } from './findings';
import { runFuzz } from './fuzz_run';

async function main(): Promise<number> {
  const args = parseFuzzArgs(process.argv.slice(2), Date.now() % 0x1_0000_0000);
  if (args === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  const daemonScript = args.daemon ?? join(__dirname, 'vfs-virtiofsd');
  if (!existsSync(daemonScript)) throw new FuzzUsageError(`${daemonScript} does not exist (run make bundle?)`);
  let stopping = false;
  const onSignal = (): void => {
    stopping = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stderr.write(`vfs-fuzz: seed ${args.seed}, from case ${args.start}\n`);
  const report = await runFuzz({
    ...args,
    daemonScript,
    reproduceExtra: reproduceExtra(args),
    onProgress: (line) => process.stderr.write(`${line}\n`),
    shouldStop: () => stopping,
  });
  process.stdout.write(`${formatReport(report)}\n`);
  if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
  const c = report.counts;
  return c.crash + c.hang + c.resource + c.escape > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vfs-fuzz: ${errorMessage(err)}\n`);
    if (err instanceof FuzzUsageError) process.stderr.write(USAGE);
    process.exit(err instanceof FuzzUsageError ? 2 : 1);
  },
);
