/**
 * vfs-agent entry: `agent.js --port /dev/vportNpM [--launcher <path>]`, run by the guest's /init.
 * Serves AgentService on the virtio-serial port until the VM stops. `--launcher` overrides
 * vfs-launcher's location (default: next to this bundle, as the runtime share lays it out).
 *
 * The same bundle is also the entry of the startup snapshot agent.blob (`node --snapshot-blob
 * agent.blob --build-snapshot agent.js`, agent/runtime.mk), which /init prefers: `node
 * --snapshot-blob agent.blob -- --port …` starts with the bundle already compiled and evaluated
 * (≈0.2 s less under TCG). Snapshot-safe: loading the bundle opens no handle and reads no argv or
 * env; all of that happens in `run`, the snapshot's deserialize main. Node's own caches taken at
 * load time are the build host's, though: read such facts live (guest_details.ts, kernelRelease).
 *
 * Start-up is on the cold-start critical path (Node itself takes 1.5–2 s under TCG): before the
 * port is open only argument parsing, the ttrpc server and the AgentService messages load; the
 * container core loads with the first call that needs it (server/agent_server.ts).
 */
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { startupSnapshot } from 'node:v8';
import { errorMessage } from '@vfs/contracts';
import { assertAgentGuest } from './guest_only';
import { SpareLauncher } from './container/spare_launcher';
import { agentServer } from './server/agent_server';
import { createLogger } from './server/logger';
import { servePort } from './server/serve_port';
import { markReady } from './timestamps';

interface AgentArgs {
  readonly port: string;
  readonly launcher: string;
}

/** From the snapshot, argv is [node, ...args] and the program is node itself (it sits beside the launcher). */
function agentArgs(fromSnapshot: boolean): AgentArgs {
  const program = fromSnapshot ? process.execPath : (process.argv[1] ?? '.');
  const { values } = parseArgs({
    args: process.argv.slice(fromSnapshot ? 1 : 2),
    options: { port: { type: 'string' }, launcher: { type: 'string' } },
    strict: true,
  });
  if (values.port === undefined) throw new Error('usage: agent.js --port <virtio-serial device> [--launcher <path>]');
  return { port: values.port, launcher: values.launcher ?? join(dirname(program), 'vfs-launcher') };
}

async function main(fromSnapshot: boolean): Promise<never> {
  assertAgentGuest();
  const args = agentArgs(fromSnapshot);
  const log = createLogger('info');
  const agent = agentServer(log, { launcherPath: args.launcher, spareLauncher: new SpareLauncher(args.launcher) });
  return servePort(args.port, agent.server, log, () => {
    const ready = markReady(fromSnapshot);
    const startMs = Math.round((ready.readyUptimeS - ready.processStartUptimeS) * 1000);
    log.info({ port: args.port, startMs, readyUptimeS: ready.readyUptimeS, fromSnapshot }, 'serving');
    // After the first Check has had its turn: the host's next calls need the core anyway.
    setImmediate(agent.preload);
  });
}

// Fatal (the port is gone): exit, so /init powers the VM off and the host sees it.
function run(fromSnapshot: boolean): void {
  main(fromSnapshot).catch((err: unknown) => {
    process.stderr.write(`vfs-agent: ${errorMessage(err)}\n`);
    process.exit(2);
  });
}

if (startupSnapshot.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(() => run(true));
else run(false);
