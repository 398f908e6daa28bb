// The server side of a JSON-lines protocol over a unix stream socket: one request per line in,
// one answer per line out, in order per connection. A request that fails — a bad line or a
// refused operation — is answered with `{id, ok: false, error}` and the connection keeps serving.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { errorMessage } from '../errors';

export interface JsonLinesLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** Answers one line; throwing makes an error answer. */
export type JsonLinesHandler = (line: string) => Promise<object & { readonly id: number }>;

/** The request's id when the line is at least JSON with a numeric id, so an error can be matched. */
export function requestIdOf(line: string): number {
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'number')
      return (v as { id: number }).id;
  } catch {
    // Not JSON at all: the error answer carries id 0.
  }
  return 0;
}

export class JsonLinesServer {
  private constructor(
    private readonly server: Server,
    private readonly path: string,
    private readonly connections: Set<Socket>,
  ) {}

  /** Listens on `path` (replacing a stale socket), mode 0600: only its owner (root) may connect. */
  static async listen(path: string, handler: JsonLinesHandler, log: JsonLinesLog): Promise<JsonLinesServer> {
    const connections = new Set<Socket>();
    const server = createServer((socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
      serve(socket, handler, log);
    });
    rmSync(path, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    log.info({ socket: path }, 'socket listening');
    return new JsonLinesServer(server, path, connections);
  }

  /** Stops listening and ends open connections: a connected client must not keep a stopping process alive. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
    rmSync(this.path, { force: true });
  }
}

function serve(socket: Socket, handler: JsonLinesHandler, log: JsonLinesLog): void {
  socket.on('error', (err) => log.warn({ err: err.message }, 'connection error'));
  let queue = Promise.resolve();
  createInterface({ input: socket, crlfDelay: Infinity }).on('line', (line) => {
    queue = queue
      .then(() => answer(line, handler, log))
      .then((reply) => {
        if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
      });
  });
}

async function answer(line: string, handler: JsonLinesHandler, log: JsonLinesLog): Promise<object> {
  try {
    return await handler(line);
  } catch (err) {
    const error = errorMessage(err);
    log.warn({ error }, 'request failed');
    return { id: requestIdOf(line), ok: false, error };
  }
}
