import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { AgentServiceDefinition, CheckResponse_ServingStatus } from '@vfs/proto/gen/agent/agent';
import { socketFixture, type SocketFixture, unimplemented } from '@vfs/proto/test_support/ttrpc_fixture';
import { Code, type ServiceImplementation, TtrpcError } from '@vfs/proto/ttrpc';
import pino from 'pino';
import { type AgentClient, dialWithFirstCall, firstCheckAnswer } from './agent_dial';

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

/** A real ttrpc agent on a unix socket with these handlers (the rest refuse); `socket` is a client end, as a pool hands one over. */
async function servedAgent(
  handlers: Partial<ServiceImplementation<typeof AgentServiceDefinition>>,
): Promise<{ socket: Socket; fixture: SocketFixture }> {
  const fixture = await socketFixture((server) =>
    server.register(AgentServiceDefinition, unimplemented(AgentServiceDefinition, handlers)),
  );
  const socket = connect(fixture.socketPath);
  await once(socket, 'connect');
  return { socket, fixture };
}

describe("a handed-over connection's first call, instead of Check", () => {
  const log = pino({ level: 'silent' });
  const vmGone = new Promise<string>(() => undefined);
  const dial = (socket: Socket, timeoutMs = 5000) => ({
    socketPath: '/nonexistent',
    timeoutMs,
    vmGone,
    log,
    handedOver: socket,
  });
  const createSandbox = (agent: AgentClient, timeoutMs: number) =>
    agent
      .createSandbox({ sandboxId: 's', hostname: 'h', shares: [], interfaces: [], routes: [] }, { timeoutMs })
      .then(() => undefined);

  it('ends the dial with its answer, and no Check is sent', async () => {
    const calls: string[] = [];
    const agent = await servedAgent({
      check: async () => {
        calls.push('check');
        return { status: CheckResponse_ServingStatus.SERVING };
      },
      createSandbox: async () => {
        calls.push('createSandbox');
        return {};
      },
    });
    try {
      const { connection, first } = await dialWithFirstCall(dial(agent.socket), createSandbox);
      await expect(first).resolves.toBeUndefined();
      expect(calls).toEqual(['createSandbox']);
      connection.client.close();
    } finally {
      agent.socket.destroy();
      await agent.fixture.close();
    }
  });

  it("leaves an error answer to the caller: the agent serves, the call's failure is its own", async () => {
    const agent = await servedAgent({
      createSandbox: async () => {
        throw new TtrpcError(Code.InvalidArgument, 'hostname "-" is not a valid host name');
      },
    });
    try {
      const { connection, first } = await dialWithFirstCall(dial(agent.socket), createSandbox);
      await expect(first).rejects.toThrow('is not a valid host name');
      connection.client.close();
    } finally {
      agent.socket.destroy();
      await agent.fixture.close();
    }
  });

  it('fails the dial within its timeout when nothing answers', async () => {
    const agent = await servedAgent({ createSandbox: () => new Promise(() => undefined) });
    try {
      await expect(dialWithFirstCall(dial(agent.socket, 300), createSandbox)).rejects.toThrow(
        'did not answer within agent.dial_timeout_ms = 300 ms',
      );
    } finally {
      agent.socket.destroy();
      await agent.fixture.close();
    }
  });

  it('fails the dial at once when the VM goes before an answer', async () => {
    const agent = await servedAgent({ createSandbox: () => new Promise(() => undefined) });
    try {
      const started = Date.now();
      await expect(
        dialWithFirstCall({ ...dial(agent.socket), vmGone: Promise.resolve('QEMU exited') }, createSandbox),
      ).rejects.toThrow('the VM stopped before its agent answered: QEMU exited');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      agent.socket.destroy();
      await agent.fixture.close();
    }
  });

  it('fails the dial when the connection ends before an answer', async () => {
    const agent = await servedAgent({
      createSandbox: () => {
        // The server closes every connection it serves.
        void agent.fixture.server.close();
        return new Promise(() => undefined);
      },
    });
    try {
      await expect(dialWithFirstCall(dial(agent.socket), createSandbox)).rejects.toThrow('connect to the guest agent');
    } finally {
      agent.socket.destroy();
      await agent.fixture.close();
    }
  });
});
