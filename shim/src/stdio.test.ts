// The log URIs of openStdio without a VM: the test plays the runtime's part (writes the process's
// output into the opened streams and ends them). The real path is e2e/vm_log_uri.test.ts.

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { openStdio, type StdioOwner } from './stdio';

const owner: StdioOwner = { containerId: 'c1', namespace: 'ns1', log: pino({ level: 'silent' }) };

function write(stream: Writable | undefined, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream === undefined) return reject(new Error('no stream'));
    stream.end(text, () => resolve());
  });
}

async function eventually(path: string, expected: string): Promise<void> {
  for (let i = 0; i < 100 && !(existsSync(path) && readFileSync(path, 'utf8') === expected); i++) await sleep(20);
  expect(existsSync(path) ? readFileSync(path, 'utf8') : '(missing)').toBe(expected);
}

describe('openStdio log URIs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-stdio-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('file://: appends both streams to one file (0644), creating its directories', async () => {
    const path = join(dir, 'a', 'b', 'out.log');
    const stdio = await openStdio(
      { stdin: '', stdout: `file://${path}`, stderr: `file://${path}`, terminal: false },
      owner,
    );
    await write(stdio.stdout, 'out\n');
    await write(stdio.stderr, 'err\n');
    await eventually(path, 'out\nerr\n');
    expect(statSync(path).mode & 0o777).toBe(0o644 & ~process.umask());
    stdio.close();
    const again = await openStdio(
      { stdin: '', stdout: `file://${path}`, stderr: `file://${path}`, terminal: true },
      owner,
    );
    expect(again.stderr).toBeUndefined();
    await write(again.stdout, 'tty\n');
    await eventually(path, 'out\nerr\ntty\n');
    again.close();
  });

  it('binary://: args from the query, only the ids in the env, fd 3 and 4, ready on a byte on fd 5, exit on EOF', async () => {
    const logger = join(dir, 'logger.sh');
    writeFileSync(
      logger,
      [
        '#!/bin/sh',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template.
        'echo "$* id=$CONTAINER_ID ns=$CONTAINER_NAMESPACE home=${HOME:-unset}" > "$2.meta"',
        'cat <&3 > "$2.out" 5>&- &',
        'cat <&4 > "$2.err" 5>&- &',
        'echo ready >&5',
        'wait',
        'echo exited-on-eof >> "$2.meta"',
      ].join('\n'),
    );
    chmodSync(logger, 0o755);
    const prefix = join(dir, 'log');
    const uri = `binary://${logger}?out=${encodeURIComponent(prefix)}`;
    const stdio = await openStdio({ stdin: '', stdout: uri, stderr: uri, terminal: false }, owner);
    await write(stdio.stdout, 'hello\n');
    await write(stdio.stderr, 'oops\n');
    await eventually(`${prefix}.out`, 'hello\n');
    await eventually(`${prefix}.err`, 'oops\n');
    await eventually(`${prefix}.meta`, `out ${prefix} id=c1 ns=ns1 home=unset\nexited-on-eof\n`);
    stdio.close();
  });

  it('binary://: fails Create with the reason when the logger cannot be started', async () => {
    const logger = join(dir, 'missing-logger');
    await expect(
      openStdio({ stdin: '', stdout: `binary://${logger}`, stderr: `binary://${logger}`, terminal: false }, owner),
    ).rejects.toThrow(/logging binary .*missing-logger: .*spawn .*missing-logger ENOENT/);
  });
});
