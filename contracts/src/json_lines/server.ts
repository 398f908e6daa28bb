// The server side of a JSON-lines protocol over a unix stream socket: one request per line in,
// one answer per line out, in order per connection. A request that fails — a bad line or a
// refused operation — is answered with `{id, ok: false, error}` and the connection keeps serving.
import { chmodSync, renameSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
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

  /**
   * Listens on `path` (replacing a stale socket), mode 0600: only its owner (root) may connect.
   * The socket is bound, listening and 0600 under a staging name beside `path` first, then renamed:
   * a client that sees `path` can connect at once (no ECONNREFUSED between bind and listen), and
   * nobody else can meanwhile.
   */
  static async listen(path: string, handler: JsonLinesHandler, log: JsonLinesLog): Promise<JsonLinesServer> {
    const connections = new Set<Socket>();
    const server = createServer((socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
      serve(socket, handler, log);
    });
    const staging = stagingPath(path);
    rmSync(staging, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(staging, () => resolve());
    });
    try {
      chmodSync(staging, 0o600);
      renameSync(staging, path);
    } catch (err) {
      server.close();
      rmSync(staging, { force: true });
      throw err;
    }
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

/** sockaddr_un.sun_path: 108 bytes with the NUL. */
const SUN_PATH_MAX = 107;

/** A dot-name beside `path`, one byte longer; an error rather than a name the kernel would cut. */
function stagingPath(path: string): string {
  const staging = join(dirname(path), `.${basename(path)}`);
  if (Buffer.byteLength(staging) > SUN_PATH_MAX)
    throw new Error(`socket path ${path} is too long: at most ${SUN_PATH_MAX - 1} bytes (its staging name adds one)`);
  return staging;
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
