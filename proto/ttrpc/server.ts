// The ttrpc server: services registered by full name, served on a unix socket or on any Duplex
// (the guest agent's virtio-serial port is one connection that lives as long as the VM).

import { unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorMessage } from './errors';
import { stderrLogger, type TtrpcLogger } from './logger';
import { ServiceRegistry } from './registry';
import { ServerConnection } from './server_connection';
import type { ServiceDefinition, ServiceImplementation } from './service';

export interface TtrpcServerOptions {
  readonly logger?: TtrpcLogger;
}

export class TtrpcServer {
  private readonly registry = new ServiceRegistry();
  private readonly connections = new Set<ServerConnection>();
  private readonly listeners = new Set<Server>();
  private readonly log: TtrpcLogger;

  constructor(options: TtrpcServerOptions = {}) {
    this.log = options.logger ?? stderrLogger;
  }

  /** Registers a ts-proto generic definition (`TaskDefinition`) with one handler per method. */
  register<D extends ServiceDefinition>(definition: D, implementation: ServiceImplementation<D>): this {
    this.registry.register(definition, implementation);
    return this;
  }

  /** Serves one already-open connection until it closes. */
  serveConnection(duplex: Duplex): ServerConnection {
    const connection = new ServerConnection(duplex, this.registry, this.log, (closed) =>
      this.connections.delete(closed),
    );
    this.connections.add(connection);
    return connection;
  }

  /** Listens on a unix socket, replacing a stale socket file left by a previous process. */
  async listen(socketPath: string): Promise<void> {
    await unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') {
        throw err;
      }
    });
    const server = createServer((socket: Socket) => this.serveConnection(socket));
    server.on('error', (err) => this.log.error({ socketPath, err: errorMessage(err) }, 'ttrpc: listener failed'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.listeners.add(server);
  }

  /** Stops listening and closes every connection; running handlers see their signal aborted. */
  async close(): Promise<void> {
    const stopped = [...this.listeners].map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    this.listeners.clear();
    for (const connection of [...this.connections]) {
      connection.close('server is shutting down');
    }
    await Promise.all(stopped);
  }
}
