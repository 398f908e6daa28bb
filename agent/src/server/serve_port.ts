/**
 * Serves ttrpc on the virtio-serial port for the VM's life. One host connection at a time: when
 * the host side goes away (shim restart) the port reads EOF, the connection's calls are
 * abandoned, and the port is reopened for the next host. A host back before the agent read that
 * EOF continues on the same stream; the ttrpc connection takes its first request (stream 1
 * again) as a new session. Containers outlive connections.
 */
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_PORT_CLOSED } from '@vfs/contracts';
import type { TtrpcServer } from '@vfs/proto/ttrpc';
import type { AgentLogger } from './logger';
import { openPort } from './port_channel';

/**
 * How often an unconnected port is retried: a disconnected host is rare, a poll is cheap. Right
 * after a host left, the next one often comes within ~0.1 s (a shim adopting a VM from the warm
 * pool), so the polls start at 5 ms and double up to 100 ms: the agent is there soon after it,
 * and a port without a host still costs one poll per 100 ms.
 */
const RECONNECT_FIRST_MS = 5;
const RECONNECT_POLL_MS = 100;

export interface Reopen {
  /** How long to wait before opening the port again. */
  readonly waitMs: number;
  /** The wait after the next connection, if it too ends at once. */
  readonly nextPollMs: number;
}

/** When to reopen the port after a connection that lasted `lastedMs`, with `pollMs` the current poll. */
export function reopenAfter(lastedMs: number, pollMs: number): Reopen {
  // A port that ends at once has no host behind it: wait before polling it again.
  if (lastedMs < RECONNECT_POLL_MS) return { waitMs: pollMs, nextPollMs: Math.min(pollMs * 2, RECONNECT_POLL_MS) };
  return { waitMs: 0, nextPollMs: RECONNECT_FIRST_MS };
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Never returns; throws only when the port cannot be opened. `onServing` runs after the first open. */
export async function servePort(
  path: string,
  server: TtrpcServer,
  log: AgentLogger,
  onServing: () => void,
): Promise<never> {
  let first = true;
  let pollMs = RECONNECT_FIRST_MS;
  for (;;) {
    const socket = openPort(path);
    const openedAt = performance.now();
    server.serveConnection(socket);
    if (first) onServing();
    first = false;
    await closed(socket);
    const lastedMs = performance.now() - openedAt;
    const reopen = reopenAfter(lastedMs, pollMs);
    pollMs = reopen.nextPollMs;
    if (reopen.waitMs > 0) await sleep(reopen.waitMs);
    else log.info({ port: path, ms: Math.round(lastedMs) }, AGENT_PORT_CLOSED);
  }
}
