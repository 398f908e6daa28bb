/**
 * vfs-agent entry: `agent.js --port /dev/vportNpM [--launcher <path>]`, run by the guest's /init.
 * Serves AgentService on the virtio-serial port until the VM stops. `--launcher` overrides
 * vfs-launcher's location (default: next to this bundle, as the runtime share lays it out).
 *
 * Start-up is on the cold-start critical path (Node itself takes 1.5–2 s under TCG): before the
 * port is open only argument parsing, the ttrpc server and the AgentService messages load; the
 * container core loads with the first call that needs it (server/agent_server.ts).
 */
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '@vfs/contracts';
import { agentServer } from './server/agent_server';
import { createLogger } from './server/logger';
import { servePort } from './server/serve_port';
import { markReady } from './timestamps';

interface AgentArgs {
  readonly port: string;
  readonly launcher: string;
}

function agentArgs(argv: readonly string[]): AgentArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: { port: { type: 'string' }, launcher: { type: 'string' } },
    strict: true,
  });
  if (values.port === undefined) throw new Error('usage: agent.js --port <virtio-serial device> [--launcher <path>]');
  return { port: values.port, launcher: values.launcher ?? join(dirname(process.argv[1] ?? '.'), 'vfs-launcher') };
}

async function main(): Promise<never> {
  const args = agentArgs(process.argv.slice(2));
  const log = createLogger('info');
  const agent = agentServer(log, { launcherPath: args.launcher });
  return servePort(args.port, agent.server, log, () => {
    const ready = markReady();
    const startMs = Math.round((ready.readyUptimeS - ready.processStartUptimeS) * 1000);
    log.info({ port: args.port, startMs, readyUptimeS: ready.readyUptimeS }, 'serving');
    // After the first Check has had its turn: the host's next calls need the core anyway.
    setImmediate(agent.preload);
  });
}

// Fatal (the port is gone): exit, so /init powers the VM off and the host sees it.
main().catch((err: unknown) => {
  process.stderr.write(`vfs-agent: ${errorMessage(err)}\n`);
  process.exit(2);
});
