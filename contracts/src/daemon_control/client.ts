// Client side of the control protocol, for the shim and the tests: requests are matched to
// responses by id, and a failed request rejects with the daemon's message.
import { JsonLinesClient } from '../json_lines/client';
import type { AddExport, ExportInfo } from './protocol';

export class ControlClient {
  private constructor(private readonly lines: JsonLinesClient) {}

  static async connect(path: string): Promise<ControlClient> {
    return new ControlClient(await JsonLinesClient.connect(path, 'control'));
  }

  async add(share: Omit<AddExport, 'id' | 'op'>): Promise<void> {
    await this.lines.call('add', share);
  }

  async remove(tag: string): Promise<void> {
    await this.lines.call('remove', { tag });
  }

  async list(): Promise<ExportInfo[]> {
    const answer = await this.lines.call<{ id: number; ok: boolean; exports?: ExportInfo[] }>('list');
    return answer.exports ?? [];
  }

  close(): void {
    this.lines.close();
  }
}
