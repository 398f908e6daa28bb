// The control socket of multi-export mode: one JSON request per line in, one response per line
// out. A bad line is answered with an error and the connection keeps serving.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Logger } from '../log';
import { errorMessage, parseRequest, requestId, type ControlRequest, type ControlResponse } from '@vfs/contracts';

export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse>;

export class ControlServer {
  private readonly server: Server;

  private constructor(
    private readonly path: string,
    private readonly handler: ControlHandler,
    private readonly log: Logger,
  ) {
    this.server = createServer((socket) => this.serve(socket));
  }

  static async listen(path: string, handler: ControlHandler, log: Logger): Promise<ControlServer> {
    const cs = new ControlServer(path, handler, log);
    rmSync(path, { force: true });
    await new Promise<void>((resolve, reject) => {
      cs.server.once('error', reject);
      cs.server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    log.info({ control: path }, 'control socket listening');
    return cs;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private serve(socket: Socket): void {
    socket.on('error', (err) => this.log.warn({ err: err.message }, 'control connection error'));
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    // Requests on one connection are answered in order, one at a time.
    let queue = Promise.resolve();
    lines.on('line', (line) => {
      queue = queue
        .then(() => this.answer(line))
        .then((response) => {
          if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
        });
    });
  }

  private async answer(line: string): Promise<ControlResponse> {
    try {
      return await this.handler(parseRequest(line));
    } catch (err) {
      const error = errorMessage(err);
      this.log.warn({ error }, 'control request failed');
      return { id: requestId(line), ok: false, error };
    }
  }
}
