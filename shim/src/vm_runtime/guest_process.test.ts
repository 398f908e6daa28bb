// trackGuestProcess's stdin relay when the process or its VM is gone: a stdin that ends as the
// sandbox stops (`ctr run --rm`) is not a failure to warn about, while any other failure is. The
// agent is a stand-in object answering the calls the relay makes; the real agent path is covered
// by vm_sandbox_runtime.test.ts and e2e/vm_containers.
import { PassThrough, Writable } from 'node:stream';
import pino from 'pino';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import type { AgentClient } from './agent_dial';
import { trackGuestProcess } from './guest_process';

interface LogLine {
  readonly level: number;
  readonly msg: string;
}

const WARN = 40;

function capturingLogger(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as LogLine);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

async function* noOutput(): AsyncGenerator<{ data: Buffer }> {}

/** An agent whose process exits at once; WriteStdin and CloseStdin fail with `failure`. */
function agentFailingStdin(failure: Error): { agent: AgentClient; closeCalls: () => number } {
  let closes = 0;
  const agent = {
    readStdout: () => noOutput(),
    readStderr: () => noOutput(),
    waitProcess: async () => ({ exitStatus: 0, exitReason: 0 }),
    outputConsumed: async () => ({}),
    writeStdin: async () => {
      throw failure;
    },
    closeStdin: async () => {
      closes += 1;
      throw failure;
    },
  };
  return { agent: agent as unknown as AgentClient, closeCalls: () => closes };
}

async function relayEndingStdin(failure: Error, input?: string): Promise<{ lines: LogLine[]; closes: number }> {
  const { log, lines } = capturingLogger();
  const { agent, closeCalls } = agentFailingStdin(failure);
  const stdin = new PassThrough();
  const proc = trackGuestProcess(
    agent,
    { containerId: 'c1', execId: '' },
    { terminal: false, stdin, stdout: undefined, stderr: undefined },
    log,
  );
  proc.startStdin();
  stdin.end(input);
  await proc.exited;
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { lines, closes: closeCalls() };
}

describe('a guest process stdin relay', () => {
  it('does not warn when its stdin ends after the VM is gone', async () => {
    const { lines, closes } = await relayEndingStdin(new TtrpcError(Code.Unavailable, 'ttrpc: CloseStdin interrupted'));
    expect(closes).toBe(1);
    expect(lines.filter((line) => line.level >= WARN)).toEqual([]);
    expect(lines.map((line) => line.msg)).toContain('stdin closed after the process was gone');
  });

  it('takes input the exited process refuses as its stdin closed', async () => {
    const { lines, closes } = await relayEndingStdin(new TtrpcError(Code.NotFound, 'no such process'), 'late input');
    expect(closes).toBe(0);
    expect(lines.filter((line) => line.level >= WARN)).toEqual([]);
  });

  it('warns when the agent fails the call for another reason', async () => {
    const { lines } = await relayEndingStdin(new TtrpcError(Code.Internal, 'pipe broke'));
    expect(lines.filter((line) => line.level >= WARN).map((line) => line.msg)).toEqual([
      'stdin relay to the guest failed',
    ]);
  });
});
