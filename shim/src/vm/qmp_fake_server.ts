/**
 * Test double for qmp.test.ts: a QMP server on a unix socket that behaves like QEMU's monitor
 * as far as the client can see — greeting, CommandNotFound before qmp_capabilities, answers
 * with the request's id, events on demand, and `quit` answered, announced with SHUTDOWN and
 * followed by a close. Other commands are answered by `handlers`, or with CommandNotFound.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { JsonObject } from './qmp';

/** What to answer; `undefined` leaves the command unanswered, like a QEMU whose main loop is stuck. */
export type FakeHandler = (
  args: JsonObject | undefined,
) => { return: unknown } | { error: { class: string; desc: string } } | undefined;

export const FAKE_GREETING = {
  QMP: { version: { qemu: { micro: 0, minor: 2, major: 7 }, package: 'fake' }, capabilities: ['oob'] },
};

export class FakeQmpServer {
  /** Every command received, in order, with its arguments. */
  readonly received: { execute: string; arguments?: JsonObject }[] = [];
  /** Leaves qmp_capabilities unanswered, like a QEMU whose monitor is stuck. */
  stallCapabilities = false;
  private readonly clients = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly path: string,
    private readonly handlers: Readonly<Record<string, FakeHandler>>,
  ) {
    server.on('connection', (socket) => this.serve(socket));
  }

  static async listen(path: string, handlers: Readonly<Record<string, FakeHandler>> = {}): Promise<FakeQmpServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    return new FakeQmpServer(server, path, handlers);
  }

  /** Sends an event to every connected client. */
  emitEvent(event: string, data?: JsonObject): void {
    const line = JSON.stringify({
      event,
      ...(data === undefined ? {} : { data }),
      timestamp: { seconds: 1700000000, microseconds: 42 },
    });
    for (const client of this.clients) client.write(`${line}\n`);
  }

  /** Writes raw text to every client (for protocol violations). */
  sendRaw(text: string): void {
    for (const client of this.clients) client.write(text);
  }

  /** Drops every connection, as QEMU's exit would. */
  dropClients(): void {
    for (const client of this.clients) client.destroy();
  }

  async close(): Promise<void> {
    this.dropClients();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.clients.add(socket);
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => socket.destroy());
    let negotiated = false;
    let buffer = '';
    socket.write(`${JSON.stringify(FAKE_GREETING)}\r\n`);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const request = JSON.parse(buffer.slice(0, nl)) as { execute: string; arguments?: JsonObject; id?: unknown };
        buffer = buffer.slice(nl + 1);
        this.received.push({
          execute: request.execute,
          ...(request.arguments === undefined ? {} : { arguments: request.arguments }),
        });
        negotiated = this.answer(socket, request, negotiated);
      }
    });
  }

  private answer(
    socket: Socket,
    request: { execute: string; arguments?: JsonObject; id?: unknown },
    negotiated: boolean,
  ): boolean {
    const reply = (body: object): void => {
      socket.write(`${JSON.stringify({ ...body, ...(request.id === undefined ? {} : { id: request.id }) })}\r\n`);
    };
    if (request.execute === 'qmp_capabilities') {
      if (!this.stallCapabilities) reply({ return: {} });
      return true;
    }
    if (!negotiated) {
      reply({
        error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" },
      });
      return false;
    }
    if (request.execute === 'quit') {
      reply({ return: {} });
      this.emitEvent('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
      socket.end();
      return true;
    }
    const handler = this.handlers[request.execute];
    if (handler === undefined) {
      reply({ error: { class: 'CommandNotFound', desc: `The command ${request.execute} has not been found` } });
      return true;
    }
    const answer = handler(request.arguments);
    if (answer !== undefined) reply(answer);
    return true;
  }
}
