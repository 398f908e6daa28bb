import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLinesServer } from './server';

const quiet = { info: () => undefined, warn: () => undefined };

test('close ends the connections still open and removes the socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-jsonl-'));
  const path = join(dir, 's.sock');
  try {
    const server = await JsonLinesServer.listen(path, async (line) => ({ id: Number(line) }), quiet);
    const client = connect(path);
    const answer = new Promise<string>((resolve) => client.once('data', (d) => resolve(d.toString())));
    client.write('7\n');
    expect(await answer).toBe('{"id":7}\n');
    const ended = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await server.close();
    await ended;
    expect(existsSync(path)).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
