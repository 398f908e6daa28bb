import { CheckResponse_ServingStatus } from '@vfs/proto/gen/agent/agent';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { AgentClient } from './agent_dial';
import { dialAgent, firstCheckAnswer } from './agent_dial';

/** An agent whose every Check answers `answerMs` after it was sent; records the sends. */
function slowAgent(answerMs: number, sent: number[]): AgentClient {
  const started = Date.now();
  const check = () => {
    sent.push(Date.now() - started);
    return new Promise((resolve) =>
      setTimeout(() => resolve({ status: CheckResponse_ServingStatus.SERVING }), answerMs),
    );
  };
  return { check } as unknown as AgentClient;
}

describe("the adopter's Check", () => {
  it('takes a slow answer that comes after a resend, resending meanwhile', async () => {
    const sent: number[] = [];
    const started = Date.now();
    const answer = await firstCheckAnswer(slowAgent(130, sent), Date.now() + 5000, 50);
    expect(answer.status).toBe(CheckResponse_ServingStatus.SERVING);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(sent.length).toBeGreaterThanOrEqual(2);
  });

  it('fails at once on an error other than the deadline, and sends once without a resend interval', async () => {
    const sent: number[] = [];
    const closed = {
      check: () => {
        sent.push(0);
        return Promise.reject(new TtrpcError(Code.Unavailable, 'connection closed'));
      },
    };
    await expect(
      firstCheckAnswer(closed as unknown as AgentClient, Date.now() + 5000, Number.POSITIVE_INFINITY),
    ).rejects.toThrow('connection closed');
    expect(sent).toHaveLength(1);
  });
});

describe('a handed-over agent connection', () => {
  it('is taken as it is, with no Check sent: the first call goes out as the first bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfs-agent-dial-'));
    const received: Buffer[] = [];
    const server = createServer((peer) => peer.on('data', (chunk: Buffer) => received.push(chunk)));
    await new Promise<void>((resolve) => server.listen(join(dir, 'agent.sock'), resolve));
    const socket: Socket = connect(join(dir, 'agent.sock'));
    await new Promise((resolve) => socket.once('connect', resolve));
    try {
      const connection = await dialAgent({
        socketPath: join(dir, 'unused.sock'),
        timeoutMs: 5000,
        vmGone: new Promise(() => undefined),
        log: pino({ level: 'silent' }),
        handedOver: socket,
      });
      expect(connection.socket).toBe(socket);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received).toEqual([]);
      void connection.agent.getGuestDetails({}).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(Buffer.concat(received).toString('latin1')).toContain('GetGuestDetails');
      connection.client.close();
    } finally {
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
