/**
 * Serves ttrpc on the virtio-serial port for the VM's life. One host connection at a time: when
 * the host side goes away (shim restart) the port reads EOF, the connection's calls are
 * abandoned, and the port is reopened for the next host. A host back before the agent read that
 * EOF continues on the same stream; the ttrpc connection takes its first request (stream 1
 * again) as a new session. Containers outlive connections.
 */
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TtrpcServer } from '@vfs/proto/ttrpc';
import type { AgentLogger } from './logger';
import { openPort } from './port_channel';

/** How often an unconnected port is retried: a disconnected host is rare, a poll is cheap. */
const RECONNECT_POLL_MS = 100;

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
  for (;;) {
    const socket = openPort(path);
    const openedAt = performance.now();
    server.serveConnection(socket);
    if (first) onServing();
    first = false;
    await closed(socket);
    const lastedMs = performance.now() - openedAt;
    // A port that ends at once has no host behind it: wait before polling it again.
    if (lastedMs < RECONNECT_POLL_MS) await sleep(RECONNECT_POLL_MS);
    else log.info({ port: path, ms: Math.round(lastedMs) }, 'host connection closed; reopening the port');
  }
}
