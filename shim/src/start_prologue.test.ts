import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TARGETS } from '@vfs/build';

// The shim's /bin/sh prologue (scripts/bundle.cjs) in front of a stand-in for start: by its -id it
// serves (answers on fd 3, then keeps running and writing), joins (answers and exits) or fails.
const STAND_IN = `
const fs = require('node:fs');
const id = process.argv[process.argv.indexOf('-id') + 1];
const stdin = fs.readFileSync(0, 'utf8');
if (id === 'fail') {
  process.stderr.write('stand-in: sandbox x has no running vfs shim\\n');
  process.exit(1);
}
fs.writeSync(3, JSON.stringify({ pid: process.pid, stdin }));
fs.closeSync(3);
if (id === 'serve') {
  process.stdout.write('serving after the answer\\n');
  setInterval(() => {}, 1000);
}
`;

function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the shim's start through its /bin/sh prologue", () => {
  let dir: string;
  let program: string;
  let bundle: string;
  const started: number[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-start-prologue-'));
    bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    program = join(dir, 'containerd-shim-vfs-v2');
    writeFileSync(program, `${TARGETS.shim?.shebang ?? ''}\n${STAND_IN}`);
    chmodSync(program, 0o755);
  });
  afterEach(() => {
    for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  // execFileSync returns only once containerd's pipes close: a server holding them would hang it.
  const start = (id: string): string =>
    execFileSync(program, ['-namespace', 'ns', '-id', id, '-bundle', bundle, 'start'], {
      cwd: bundle,
      input: 'runtime options',
      encoding: 'utf8',
      timeout: 10_000,
    });

  it('answers with what start wrote on fd 3 while the same process goes on serving in its own session', async () => {
    const answer = JSON.parse(start('serve')) as { pid: number; stdin: string };
    started.push(answer.pid);
    expect(answer.stdin).toBe('runtime options');
    expect(alive(answer.pid)).toBe(true);
    expect(sessionOf(answer.pid)).toBe(answer.pid);
    // What it writes after the answer goes to shim.stderr, not to containerd's pipe.
    const stderrFile = join(bundle, 'shim.stderr');
    for (let i = 0; i < 100 && readFileSync(stderrFile, 'utf8') === ''; i++) await sleep(20);
    expect(readFileSync(stderrFile, 'utf8')).toBe('serving after the answer\n');
  });

  it('answers and is done when start joins a running sandbox', () => {
    const answer = JSON.parse(start('join')) as { pid: number };
    expect(answer.pid).toBeGreaterThan(0);
  });

  it('fails with what start wrote on stderr when no answer came', () => {
    let failure: { status?: number; stderr?: string } = {};
    try {
      start('fail');
    } catch (err) {
      failure = err as typeof failure;
    }
    expect(failure.status).toBe(1);
    expect(failure.stderr).toBe('stand-in: sandbox x has no running vfs shim\n');
  });
});
