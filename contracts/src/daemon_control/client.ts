// Client side of the control protocol, for the shim and the tests: requests are matched to
// responses by id, and a failed request rejects with the daemon's message.
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { AddExport, ControlResponse, ExportInfo } from './protocol';

type Pending = { resolve: (r: ControlResponse) => void; reject: (e: Error) => void };
type Request = ({ op: 'add' } & Omit<AddExport, 'id' | 'op'>) | { op: 'remove'; tag: string } | { op: 'list' };

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly socket: Socket) {
    createInterface({ input: socket, crlfDelay: Infinity }).on('line', (line) => this.dispatch(line));
    socket.on('close', () => this.failAll(new Error('control socket closed')));
    socket.on('error', (err) => this.failAll(new Error(`control socket: ${err.message}`)));
  }

  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path, () => {
        socket.off('error', reject);
        resolve(new ControlClient(socket));
      });
      socket.once('error', reject);
    });
  }

  async add(share: Omit<AddExport, 'id' | 'op'>): Promise<void> {
    await this.call({ op: 'add', ...share });
  }

  async remove(tag: string): Promise<void> {
    await this.call({ op: 'remove', tag });
  }

  async list(): Promise<ExportInfo[]> {
    const response = await this.call({ op: 'list' });
    return response.ok ? (response.exports ?? []) : [];
  }

  close(): void {
    this.socket.end();
  }

  private call(request: Request): Promise<ControlResponse> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(`${JSON.stringify({ id, ...request })}\n`);
    }).then((r) => {
      const response = r as ControlResponse;
      if (!response.ok) throw new Error(`control ${request.op}: ${response.error}`);
      return response;
    });
  }

  private dispatch(line: string): void {
    const response = JSON.parse(line) as ControlResponse;
    const pending = this.pending.get(response.id);
    if (pending === undefined) return;
    this.pending.delete(response.id);
    pending.resolve(response);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
