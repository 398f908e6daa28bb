// The pool's clients: the shim takes a VM, vfs-runtime asks for the status.
import { JsonLinesClient } from '../json_lines/client';
import { parsePooledVm, type PooledVm, type PoolStatus, type PoolStatusAnswer, type PoolTakeAnswer } from './protocol';

/** What `take` got: a VM to adopt, or why there was none. */
export type PoolTakeResult = { readonly vm: PooledVm } | { readonly vm?: undefined; readonly reason: string };

export class PoolClient {
  private constructor(private readonly lines: JsonLinesClient) {}

  static async connect(path: string): Promise<PoolClient> {
    return new PoolClient(await JsonLinesClient.connect(path, 'pool'));
  }

  async take(fingerprint: string, sandboxId: string): Promise<PoolTakeResult> {
    const answer = await this.lines.call<PoolTakeAnswer>('take', { fingerprint, sandboxId });
    if (answer.vm === undefined) return { reason: answer.reason ?? 'the pool has no VM' };
    return { vm: parsePooledVm(answer.vm) };
  }

  async status(): Promise<PoolStatus> {
    return (await this.lines.call<PoolStatusAnswer>('status')).status;
  }

  close(): void {
    this.lines.close();
  }
}
