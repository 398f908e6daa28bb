import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, watch } from 'node:fs';
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

test('the name appears as the listening socket itself, 0600, with no staging name left beside it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-jsonl-'));
  const path = join(dir, 's.sock');
  // Connect the moment the name appears. This checks the end state only: the race the staging name
  // closes (another process connecting between bind and listen: ECONNREFUSED) needs a second
  // process and luck, and cannot be provoked here.
  const appeared = new Promise<string>((resolve) => {
    const watcher = watch(dir, (_event, name) => {
      if (name !== 's.sock' || !existsSync(path)) return;
      watcher.close();
      const client = connect(path);
      client.once('connect', () => {
        client.destroy();
        resolve('connected');
      });
      client.once('error', (err) => resolve(err.message));
    });
  });
  try {
    const server = await JsonLinesServer.listen(path, async (line) => ({ id: Number(line) }), quiet);
    expect(await appeared).toBe('connected');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['s.sock']);
    await server.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a path too long for sun_path is refused by name, not cut', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-jsonl-'));
  const path = join(dir, 'x'.repeat(120 - dir.length));
  try {
    await expect(JsonLinesServer.listen(path, async () => ({ id: 0 }), quiet)).rejects.toThrow(/is too long/);
    expect(readdirSync(dir)).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a socket that cannot take the name (a directory there) fails with the reason and leaves nothing listening', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-jsonl-'));
  const path = join(dir, 's.sock');
  mkdirSync(join(path, 'occupied'), { recursive: true });
  try {
    await expect(JsonLinesServer.listen(path, async () => ({ id: 0 }), quiet)).rejects.toThrow(
      /EISDIR|ENOTEMPTY|EEXIST/,
    );
    expect(readdirSync(dir)).toEqual(['s.sock']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
