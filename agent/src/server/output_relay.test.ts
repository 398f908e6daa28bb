// The output relay over a real process's pipes: the process runs through the real vfs-launcher on
// this host (test_support/host_launcher.ts), and `send` stands in for the ttrpc stream.
import pino from 'pino';
import type { OciProcess } from '@vfs/contracts';
import { OUTPUT_WINDOW_BYTES } from '@vfs/contracts';
import { pidAlive, waitFor } from '@vfs/harness/process';
import { buildHostLauncher, type HostLauncher } from '../../test_support/host_launcher';
import { ContainerProcess } from '../container/container_process';
import { processSteps } from '../container/process_plan';
import { DRAIN_AFTER_EXIT_MS, OutputRelays } from './output_relay';

const log = pino({ level: 'silent' });

function shell(script: string): OciProcess {
  return { user: { uid: 0, gid: 0 }, args: ['/bin/sh', '-c', script], env: ['PATH=/usr/bin:/bin'], cwd: '/' };
}

describe('a process output relay', () => {
  let launcher: HostLauncher;
  beforeAll(() => {
    launcher = buildHostLauncher('vfs-output-relay-');
  });
  afterAll(() => launcher.remove());

  const launch = (script: string): Promise<ContainerProcess> =>
    ContainerProcess.launch({
      launcherPath: launcher.path,
      parentSteps: [],
      childSteps: processSteps(shell(script), { barrier: false, createCwd: false }),
      terminal: false,
      held: false,
      context: { containerId: 'relay-test' },
    });

  /** Everything a relay without flow control sends of the process's stdout. */
  async function relayedAll(proc: ContainerProcess): Promise<string> {
    const chunks: string[] = [];
    const send = async (data: Buffer): Promise<void> => void chunks.push(data.toString());
    await new OutputRelays(log).relay(proc, 'stdout', send, {
      cancelled: new AbortController().signal,
      flowControl: false,
    });
    return chunks.join('');
  }

  it('sends no more than the window ahead of what the host consumed, and loses nothing waiting for it past the exit', async () => {
    // Two windows and what the pipe holds, so that the process can exit while the host lags.
    const size = 2 * OUTPUT_WINDOW_BYTES + 32 * 1024;
    const proc = await launch(`head -c ${size} /dev/zero`);
    const relays = new OutputRelays(log);
    let sent = 0;
    const done = relays.relay(
      proc,
      'stdout',
      async (data) => {
        sent += data.length;
      },
      { cancelled: new AbortController().signal, flowControl: true },
    );
    await waitFor('the window is used', () => sent >= OUTPUT_WINDOW_BYTES);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The relay waits for the host: the process is held on its full pipe.
    expect(sent).toBeLessThan(OUTPUT_WINDOW_BYTES + 256 * 1024);
    expect(pidAlive(proc.pid)).toBe(true);
    relays.consumed(proc, 'stdout', OUTPUT_WINDOW_BYTES);
    // The process writes the rest into its pipe and exits while the host lags past the drain time.
    await proc.wait();
    await waitFor('the next window is used', () => sent >= 2 * OUTPUT_WINDOW_BYTES);
    await new Promise((resolve) => setTimeout(resolve, DRAIN_AFTER_EXIT_MS + 500));
    relays.consumed(proc, 'stdout', size);
    await done;
    expect(sent).toBe(size);
    proc.close();
  }, 15_000);

  it('ends an output that a descendant keeps open, once nothing came for the drain time after the exit', async () => {
    const proc = await launch('sleep 30 & echo $!');
    const descendant = Number(await relayedAll(proc));
    expect(pidAlive(descendant)).toBe(true);
    expect(proc.exited).toBeDefined();
    process.kill(descendant, 'SIGKILL');
    proc.close();
  }, 15_000);

  it('ends an output that a descendant keeps writing to, the drain time after the exit', async () => {
    const proc = await launch('(while :; do echo tick; sleep 0.2; done) & echo $!');
    // The descendant may tick before the shell prints its pid: find the pid among the lines.
    const lines = (await relayedAll(proc)).split('\n');
    const descendant = lines.find((line) => /^[0-9]+$/.test(line));
    expect(descendant).toBeDefined();
    process.kill(Number(descendant), 'SIGKILL');
    expect(lines.filter((line) => line === 'tick').length).toBeGreaterThan(1);
    proc.close();
  }, 15_000);
});
