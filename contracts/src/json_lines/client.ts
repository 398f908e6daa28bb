// The client side of a JSON-lines protocol over a unix stream socket (the daemon's control
// socket, the shim's management socket): one request per line, answered by a line carrying the
// same `id`. A refused request rejects with the server's message.
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

export interface JsonLinesAnswer {
  readonly id: number;
  readonly ok: boolean;
  readonly error?: string;
}

type Pending = { resolve: (answer: JsonLinesAnswer) => void; reject: (err: Error) => void };

export class JsonLinesClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(
    private readonly socket: Socket,
    private readonly name: string,
  ) {
    createInterface({ input: socket, crlfDelay: Infinity }).on('line', (line) => this.dispatch(line));
    socket.on('close', () => this.failAll(new Error(`${name} socket closed`)));
    socket.on('error', (err) => this.failAll(new Error(`${name} socket: ${err.message}`)));
  }

  /** `name` prefixes every error: "control add: …", "management volume-add: …". */
  static connect(path: string, name: string): Promise<JsonLinesClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path, () => {
        socket.off('error', reject);
        resolve(new JsonLinesClient(socket, name));
      });
      socket.once('error', (err) => reject(new Error(`${name} socket ${path}: ${err.message}`)));
    });
  }

  /** Sends `{id, op, …fields}`; resolves with the answer when it is ok. */
  async call<A extends JsonLinesAnswer>(op: string, fields: object = {}): Promise<A> {
    const id = this.nextId++;
    const answer = await new Promise<JsonLinesAnswer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    });
    if (!answer.ok) throw new Error(`${this.name} ${op}: ${answer.error ?? 'refused'}`);
    return answer as A;
  }

  close(): void {
    this.socket.end();
  }

  private dispatch(line: string): void {
    let answer: JsonLinesAnswer;
    try {
      answer = JSON.parse(line) as JsonLinesAnswer;
    } catch {
      this.failAll(new Error(`${this.name}: unparsable answer ${line.slice(0, 200)}`));
      this.socket.destroy();
      return;
    }
    const pending = this.pending.get(answer.id);
    if (pending === undefined) return;
    this.pending.delete(answer.id);
    pending.resolve(answer);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
