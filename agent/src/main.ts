/**
 * vfs-agent entry. `--port /dev/vportNpM` (from /init): the serving mode; `--selftest <file>`
 * runs the containers a JSON scenario describes and prints JSON results (tests and
 * measurements in a real guest). `--launcher <path>` overrides vfs-launcher's location
 * (default: next to this bundle, as the runtime share lays it out).
 *
 * Start-up is on the cold-start critical path (Node itself takes 1.5–2 s under TCG): this
 * module loads only argument parsing and the timestamps; the rest loads on use.
 */
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { markReady } from './timestamps';

interface AgentArgs {
  readonly port?: string;
  readonly selftest?: string;
  readonly launcher: string;
}

function agentArgs(argv: readonly string[]): AgentArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: { port: { type: 'string' }, selftest: { type: 'string' }, launcher: { type: 'string' } },
    strict: true,
  });
  if ((values.port === undefined) === (values.selftest === undefined)) {
    throw new Error('usage: agent.js --port <virtio-serial device> | --selftest <scenario.json> [--launcher <path>]');
  }
  return {
    port: values.port,
    selftest: values.selftest,
    launcher: values.launcher ?? join(dirname(process.argv[1] ?? '.'), 'vfs-launcher'),
  };
}

async function main(): Promise<number> {
  const args = agentArgs(process.argv.slice(2));
  if (args.selftest !== undefined) {
    const { runSelftestFile } = await import('./selftest.js');
    return runSelftestFile(args.selftest, { launcherPath: args.launcher }, markReady);
  }
  const ready = markReady();
  process.stderr.write(
    `vfs-agent: ready on ${args.port} (process start ${ready.processStartUptimeS.toFixed(2)} s, ready ${ready.readyUptimeS.toFixed(2)} s since boot)\n`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`vfs-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
