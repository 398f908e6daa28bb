// Reaching the guest agent: QEMU listens on the agent's virtio-serial socket (server=on,
// wait=off) from its start, but nothing reads it until the guest has booted and the agent opened
// port agent.0; bytes written before that wait in the socket. So: connect as soon as the socket
// exists, send Check, and wait for the answer up to [agent] dial_timeout_ms — or until the VM
// exits, which fails at once with the console's tail.

import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentServiceDefinition, type CheckResponse, CheckResponse_ServingStatus } from '@vfs/proto/gen/agent/agent';
import { Code, TtrpcClient, TtrpcError, type ServiceClient } from '@vfs/proto/ttrpc';
import type { ShimLogger } from '../logger';
import { SandboxError } from '../sandbox_error';

export type AgentClient = ServiceClient<typeof AgentServiceDefinition>;

export interface AgentConnection {
  readonly client: TtrpcClient;
  readonly agent: AgentClient;
  /** The connection under the client (the pool hands it over: agent_handover.ts). */
  readonly socket: Socket;
}

export interface AgentDial {
  readonly socketPath: string;
  readonly timeoutMs: number;
  /** Settles when the VM is gone: the dial stops with this reason. */
  readonly vmGone: Promise<string>;
  readonly log: ShimLogger;
  /**
   * Sends Check again when it is not answered within this long (a VM from the warm pool): its
   * agent, without a host since the pool let go, closes and reopens its port (after 5 ms, then
   * less often, up to every 100 ms), and the guest kernel drops what a host sent into a port that
   * is being closed.
   */
  readonly resendEveryMs?: number;
  /** Called once the socket is connected, before Check is answered (a resumed VM waits for it). */
  readonly onConnected?: () => void;
  /** A connection to the agent already open (the warm pool's, handed over), used instead of a new one. */
  readonly handedOver?: Socket;
}

const CONNECT_RETRY_MS = 20;

function isRetryableConnect(err: unknown): boolean {
  return err instanceof TtrpcError && err.code === Code.Unavailable && /ENOENT|ECONNREFUSED/.test(err.message);
}

async function connectSocket(dial: AgentDial, deadline: number): Promise<Socket> {
  if (dial.handedOver !== undefined) {
    if (dial.handedOver.destroyed) {
      const why = dial.handedOver.errored?.message ?? 'closed';
      throw new TtrpcError(Code.Unavailable, `ttrpc: the handed-over agent connection ${why}`);
    }
    return dial.handedOver;
  }
  for (;;) {
    try {
      return await TtrpcClient.connectSocket(dial.socketPath);
    } catch (err) {
      if (!isRetryableConnect(err) || Date.now() > deadline) throw err;
      await sleep(CONNECT_RETRY_MS);
    }
  }
}

/**
 * The first answer to Check, sending another every `resendEveryMs` until one comes: every call
 * stays pending until the deadline, so a slow answer still counts (a resend does not give up on
 * it). A call that fails otherwise than by the deadline fails the dial at once.
 */
export function firstCheckAnswer(agent: AgentClient, deadline: number, resendEveryMs: number): Promise<CheckResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      finish();
    };
    const send = (): void => {
      agent.check({ service: '' }, { timeoutMs: Math.max(1, deadline - Date.now()) }).then(
        (answer) => settle(() => resolve(answer)),
        (err: unknown) => settle(() => reject(err)),
      );
      if (Date.now() + resendEveryMs < deadline) timer = setTimeout(send, resendEveryMs);
    };
    send();
  });
}

async function checkServing(agent: AgentClient, deadline: number, resendEveryMs: number): Promise<void> {
  const answer = await firstCheckAnswer(agent, deadline, resendEveryMs);
  if (answer.status !== CheckResponse_ServingStatus.SERVING) {
    throw new SandboxError(
      'unreachable',
      `the guest agent answered Check with ${CheckResponse_ServingStatus[answer.status]}`,
    );
  }
}

async function dialOnce(dial: AgentDial, deadline: number): Promise<AgentConnection> {
  const socket = await connectSocket(dial, deadline);
  const client = new TtrpcClient(socket, { logger: dial.log });
  dial.onConnected?.();
  const agent = client.service(AgentServiceDefinition);
  try {
    await checkServing(agent, deadline, dial.resendEveryMs ?? Number.POSITIVE_INFINITY);
  } catch (err) {
    client.close();
    throw err;
  }
  return { client, agent, socket };
}

function vmGoneFailure(dial: AgentDial): Promise<never> {
  return dial.vmGone.then((why) => {
    throw new SandboxError('unreachable', `the VM stopped before its agent answered: ${why}`);
  });
}

/** A dial's failure as the caller reports it: a deadline is the dial timeout's. */
function dialFailure(dial: AgentDial, err: unknown): SandboxError {
  if (err instanceof TtrpcError && err.code === Code.DeadlineExceeded) {
    return new SandboxError(
      'timeout',
      `the guest agent did not answer within agent.dial_timeout_ms = ${dial.timeoutMs} ms`,
      { cause: err },
    );
  }
  return SandboxError.wrap(err, 'connect to the guest agent');
}

/** Resolves once the agent answered Check; rejects with the VM's fate or after the timeout. */
export async function dialAgent(dial: AgentDial): Promise<AgentConnection> {
  const started = Date.now();
  const deadline = started + dial.timeoutMs;
  try {
    const connection = await Promise.race([dialOnce(dial, deadline), vmGoneFailure(dial)]);
    dial.log.info({ ms: Date.now() - started }, 'guest agent is serving');
    return connection;
  } catch (err) {
    throw dialFailure(dial, err);
  }
}

/** A call that no agent answered: the connection ended, or the deadline passed. */
function unanswered(err: unknown): boolean {
  return err instanceof TtrpcError && (err.code === Code.Unavailable || err.code === Code.DeadlineExceeded);
}

/**
 * On a connection the warm pool handed over, the sandbox's first call stands in for Check: the
 * agent served that connection without a break (nothing it sends is dropped), so all Check would
 * prove is an answer within the dial timeout, which the first call then proves instead, one
 * guest round trip sooner. The call runs with the dial's timeout; when nothing answers it (the
 * connection ends, the timeout, the VM gone) the dial fails as with Check. An answer that is an
 * error is the call's own: `first` settles with it, for the caller to report.
 */
export async function dialWithFirstCall(
  dial: AgentDial & { readonly handedOver: Socket },
  call: (agent: AgentClient, timeoutMs: number) => Promise<void>,
): Promise<{ readonly connection: AgentConnection; readonly first: Promise<void> }> {
  const started = Date.now();
  const socket = await connectSocket(dial, started + dial.timeoutMs).catch((err: unknown) => {
    throw dialFailure(dial, err);
  });
  const client = new TtrpcClient(socket, { logger: dial.log });
  const agent = client.service(AgentServiceDefinition);
  // Never a synchronous throw: the client is closed below whatever the call does.
  const first = Promise.resolve().then(() => call(agent, dial.timeoutMs));
  const outcome = first.then(
    () => undefined,
    (err: unknown) => err,
  );
  try {
    const err = await Promise.race([outcome, vmGoneFailure(dial)]);
    if (unanswered(err)) throw err;
  } catch (err) {
    client.close();
    throw dialFailure(dial, err);
  }
  dial.log.info({ ms: Date.now() - started }, 'guest agent is serving (its first call answered)');
  return { connection: { client, agent, socket }, first };
}
