import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TARGETS } from '@vfs/build';
import {
  SPARE_CLAIM_FIFO,
  SPARE_PID_FILE,
  SPARE_RESULT_FIFO,
  SPARE_RESULT_TIMEOUT_S,
  type SpareStage,
  spareDir,
  spareShimsDir,
  spareTakenDir,
} from '@vfs/contracts';

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

// A stand-in spare (contracts/src/warm_pool/spare_shim.ts): readies its dir as a spare does (its
// pid, the claim FIFO held open before the dir is renamed ready), waits for one claim, takes the
// start, and answers it with RESULT after writing ANSWER to the claimant's stdout (a file here,
// which /proc opens). RESULT "silent" never takes the start nor answers; "mute" takes it and
// never answers; "late:<result>" takes it and answers after the prologue's first wait ran out.
const FAKE_SPARE = `
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const [base, result, answer] = process.argv.slice(1);
fs.mkdirSync(base + '.loading', { recursive: true });
execFileSync('mkfifo', [base + '.loading/claim', base + '.loading/result']);
fs.writeFileSync(base + '.loading/pid', process.pid + '\\n');
const claim = fs.openSync(base + '.loading/claim', fs.constants.O_RDWR);
fs.renameSync(base + '.loading', base + '.spare');
const buf = Buffer.alloc(64);
const pid = buf.toString('latin1', 0, fs.readSync(claim, buf)).trim();
const respond = (line) => {
  if (answer !== '') fs.writeFileSync('/proc/' + pid + '/fd/1', answer);
  fs.writeFileSync(base + '.claimed/result', line + '\\n');
};
if (result === 'silent') setTimeout(() => {}, 30000);
else {
  fs.mkdirSync(base + '.claimed/taken.' + pid);
  if (result === 'mute') setTimeout(() => {}, 30000);
  else if (result.startsWith('late:')) setTimeout(() => respond(result.slice(5)), 11000);
  else respond(result);
}
`;

describe("the shim's start through its prologue, with the warm pool's spare shims", () => {
  let dir: string;
  let run: string;
  let program: string;
  let bundle: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-spare-prologue-'));
    run = join(dir, 'run');
    bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    program = join(dir, 'containerd-shim-vfs-v2');
    writeFileSync(program, `${TARGETS.shim?.shebang ?? ''}\n${STAND_IN}`);
    chmodSync(program, 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  /** A spare's dir at `stage` with its two FIFOs and the pid of a process that is gone, never answering. */
  function idle(id: string, stage: SpareStage): void {
    const path = spareDir(run, id, stage);
    mkdirSync(path, { recursive: true });
    execFileSync('mkfifo', [join(path, SPARE_CLAIM_FIFO), join(path, SPARE_RESULT_FIFO)]);
    writeFileSync(join(path, SPARE_PID_FILE), `${spawnSync('true').pid}\n`);
  }

  /** A stand-in spare, ready once this resolves; `exited` settles with its exit code. */
  async function spare(result: string, answer = ''): Promise<{ exited: Promise<number | null> }> {
    const base = join(spareShimsDir(run), 'aaaaaaaa');
    const child = spawn('node', ['-e', FAKE_SPARE, base, result, answer], { stdio: 'inherit' });
    children.push(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    for (let i = 0; i < 500 && !existsSync(`${base}.spare`); i++) await sleep(10);
    if (!existsSync(`${base}.spare`)) throw new Error('the stand-in spare did not get ready');
    return { exited };
  }

  // Through a shell, so that the start's stdout is a file the stand-in spare can open by /proc.
  function start(id: string): { status: number; stdout: string; stderr: string } {
    const out = join(dir, 'out');
    const err = join(dir, 'err');
    const r = spawnSync(
      'sh',
      [
        '-c',
        `printf 'runtime options' | "$0" -namespace ns -id ${id} -bundle "$1" start > "$2" 2> "$3"`,
        program,
        bundle,
        out,
        err,
      ],
      {
        env: { ...process.env, VFS_RUN_DIR: run },
        // Two waits of the contract's bound, at most.
        timeout: 3 * SPARE_RESULT_TIMEOUT_S * 1000,
      },
    );
    return { status: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
  }

  it('takes what a claimed spare answered, and Node never starts', async () => {
    const { exited } = await spare('ok', 'unix:///spare.sock');
    const r = start('join');
    expect(r).toEqual({ status: 0, stdout: 'unix:///spare.sock', stderr: '' });
    expect(await exited).toBe(0);
    expect(existsSync(join(bundle, 'shim.stderr'))).toBe(false);
  });

  it("fails with a claimed spare's failure", async () => {
    const { exited } = await spare('failed sandbox sb: the socket is taken');
    expect(start('join')).toEqual({ status: 1, stdout: '', stderr: 'sandbox sb: the socket is taken\n' });
    expect(await exited).toBe(0);
  });

  it('starts Node itself when the spare refuses', async () => {
    const { exited } = await spare('refused claimed by another program');
    const r = start('join');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stdin: 'runtime options' });
    expect(await exited).toBe(0);
  });

  it('skips a spare whose process is gone: no wait, and its dir is left to the pool', () => {
    idle('aaaaaaaa', 'spare');
    const started = Date.now();
    const r = start('join');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stdin: 'runtime options' });
    expect(Date.now() - started).toBeLessThan(SPARE_RESULT_TIMEOUT_S * 1000);
    expect(existsSync(spareDir(run, 'aaaaaaaa', 'spare'))).toBe(true);
  });

  it(`gives a claimed start up after ${SPARE_RESULT_TIMEOUT_S} s without a result, and starts Node with the options intact`, async () => {
    await spare('silent');
    const r = start('join');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stdin: 'runtime options' });
    // The prologue took the start back first: a spare answering late finds it taken and leaves it.
    expect(readdirSync(spareDir(run, 'aaaaaaaa', 'claimed')).filter((name) => name.startsWith('taken.'))).toHaveLength(
      1,
    );
  }, 30_000);

  it('waits once more for a spare that took the start, and takes its late answer', async () => {
    await spare('late:ok', 'unix:///late.sock');
    expect(start('join')).toEqual({ status: 0, stdout: 'unix:///late.sock', stderr: '' });
    expect(existsSync(join(bundle, 'shim.stderr'))).toBe(false);
  }, 30_000);

  it('fails a start that a spare took and never answered (its options are gone: no Node)', async () => {
    await spare('mute');
    const r = start('join');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^spare shim \d+ took this start and gave no answer\n$/);
    expect(existsSync(join(bundle, 'shim.stderr'))).toBe(false);
  }, 40_000);

  it('claims no spare that is still loading or already retired', () => {
    idle('aaaaaaaa', 'loading');
    idle('bbbbbbbb', 'retired');
    const r = start('join');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stdin: 'runtime options' });
    expect(existsSync(spareDir(run, 'aaaaaaaa', 'loading'))).toBe(true);
    expect(existsSync(spareDir(run, 'bbbbbbbb', 'retired'))).toBe(true);
  });

  it("speaks the contract's names", () => {
    const prologue = TARGETS.shim?.shebang ?? '';
    expect(prologue).toContain(`timeout ${SPARE_RESULT_TIMEOUT_S} cat "$c/${SPARE_RESULT_FIFO}"`);
    expect(prologue).toContain(`"$c/${SPARE_CLAIM_FIFO}"`);
    expect(prologue).toContain(`read q < "$s/${SPARE_PID_FILE}"`);
    expect(prologue).toContain(`mkdir "$c/${spareTakenDir(0).replace('0', () => '$$')}"`);
    expect(prologue).toContain(`/${spareShimsDir('')}/*.spare;`);
  });
});
