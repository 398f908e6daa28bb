import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { processStartTime } from '@vfs/contracts';
import { PidWatchError, type PidWatch, watchPid } from './pidfd_watch';

const O_CLOEXEC = 0o2000000;
const children: ChildProcess[] = [];
const watches: PidWatch[] = [];

function spawnSleep(): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  children.push(child);
  if (child.pid === undefined) throw new Error('sleep did not start');
  return child as ChildProcess & { pid: number };
}

function watch(pid: number, expectedStartTime?: string): PidWatch {
  const w = watchPid(pid, expectedStartTime);
  watches.push(w);
  return w;
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

const openFds = (): number => readdirSync('/proc/self/fd').length;

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((res) => (timer = setTimeout(() => res(false), ms)));
  const settled = promise.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a TypeScript snippet, importing from this directory, in a node process of its own. */
function runScript(source: string): {
  exit: Promise<unknown[]>;
  output: () => string;
  printed: (text: string) => Promise<void>;
} {
  const code = buildSync({
    stdin: { contents: source, resolveDir: __dirname, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['koffi'],
    write: false,
  }).outputFiles[0].text;
  // koffi is resolved from the working directory: the repository root.
  const node = spawn(process.execPath, ['-e', code], { cwd: resolve(__dirname, '../../..') });
  children.push(node);
  let out = '';
  node.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const printed = async (text: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!out.includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(out).toBe(text);
  };
  return { exit: once(node, 'exit'), output: () => out, printed };
}

/** Waits until the fd count is back to `count` (the shared poll closes fds when it wakes). */
async function fdsBackTo(count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (openFds() !== count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(openFds()).toBe(count);
}

afterEach(async () => {
  for (const w of watches.splice(0)) w.close();
  for (const child of children.splice(0)) {
    if (!running(child)) continue;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
});

test('exited resolves when the watched process is killed', async () => {
  const child = spawnSleep();
  const w = watch(child.pid, processStartTime(child.pid));
  expect(await settlesWithin(w.exited, 200)).toBe(false);
  process.kill(child.pid, 'SIGKILL');
  await w.exited;
  expect(w.pid).toBe(child.pid);
});

test('watching a pid with no process fails with ESRCH, naming the pid', async () => {
  const child = spawn('true', { stdio: 'ignore' });
  children.push(child);
  await once(child, 'exit');
  const pid = child.pid!;
  expect(() => watchPid(pid)).toThrow(new RegExp(`^pidfd_open\\(pid ${pid}\\): ESRCH \\(no such process\\)$`));
  expect(() => watchPid(pid)).toThrow(expect.objectContaining({ pid, code: 'ESRCH' }));
});

test('a pid whose start time differs from the handed-over one is refused, and its pidfd closed', async () => {
  const child = spawnSleep();
  const before = openFds();
  expect(() => watchPid(child.pid, '1')).toThrow(`pid ${child.pid} is no longer the process that was handed over`);
  expect(() => watchPid(child.pid, '1')).toThrow(PidWatchError);
  expect(openFds()).toBe(before);
});

test('close() before exit releases every fd, and exited never settles', async () => {
  const child = spawnSleep();
  const before = openFds();
  const w = watch(child.pid);
  expect(openFds()).toBeGreaterThan(before);
  w.close();
  w.close();
  await fdsBackTo(before);
  process.kill(child.pid, 'SIGKILL');
  await once(child, 'exit');
  expect(await settlesWithin(w.exited, 300)).toBe(false);
  expect(() => w.kill()).toThrow(PidWatchError);
});

test('kill() signals the watched process through its pidfd, and reports one already gone', async () => {
  const child = spawnSleep();
  const exit = once(child, 'exit');
  const w = watch(child.pid);
  expect(w.kill('SIGTERM')).toBe(true);
  await w.exited;
  expect((await exit)[1]).toBe('SIGTERM');
  expect(w.kill('SIGKILL')).toBe(false);
});

test('more watches than threadpool threads all resolve, and leave the pool free for fs work', async () => {
  const before = openFds();
  const sleeps = Array.from({ length: 6 }, () => spawnSleep());
  const ws = sleeps.map((child) => watch(child.pid));
  // fs work runs on the same pool (4 threads): a thread held per watch would stall it for good.
  const reads = Promise.all(Array.from({ length: 4 }, () => readFile('/proc/self/stat')));
  expect(await settlesWithin(reads, 5000)).toBe(true);
  expect(ws.slice(1).map((w) => w.kill('SIGKILL'))).toEqual([true, true, true, true, true]);
  await Promise.all(ws.slice(1).map((w) => w.exited));
  expect(await settlesWithin(ws[0].exited, 100)).toBe(false);
  ws[0].kill('SIGKILL');
  await ws[0].exited;
  await Promise.all(sleeps.map((child) => (running(child) ? once(child, 'exit') : undefined)));
  await fdsBackTo(before);
});

test('the event loop stays alive while a watch is pending, and ends once none is left', async () => {
  const closed = spawnSleep();
  const pending = spawnSleep();
  const node = runScript(`
    import { watchPid } from './pidfd_watch';
    watchPid(${closed.pid}).close();
    watchPid(${pending.pid}).exited.then(() => console.log('exited'));
    console.log('watching');
  `);
  await node.printed('watching\n');
  expect(await settlesWithin(node.exit, 500)).toBe(false);
  pending.kill('SIGKILL');
  expect(await node.exit).toEqual([0, null]);
  expect(node.output()).toBe('watching\nexited\n');
}, 30_000);

test('process.exit() is not held up by a pending watch', async () => {
  const child = spawnSleep();
  const node = runScript(`
    import { watchPid } from './pidfd_watch';
    watchPid(${child.pid});
    setTimeout(() => process.exit(7), 100);
  `);
  expect(await settlesWithin(node.exit, 10_000)).toBe(true);
  expect(await node.exit).toEqual([7, null]);
}, 30_000);

test('the pidfd names the watched process and is close-on-exec', () => {
  const child = spawnSleep();
  watch(child.pid);
  const pidfds = readdirSync('/proc/self/fd')
    .map((fd) => fdinfo(fd))
    .filter((info) => new RegExp(`^Pid:\\s+${child.pid}$`, 'm').test(info));
  expect(pidfds).toHaveLength(1);
  const flags = Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(pidfds[0])![1], 8);
  expect(flags & O_CLOEXEC).toBe(O_CLOEXEC);
});

/** An fd's /proc fdinfo, or '' for one closed since it was listed (readdir's own). */
function fdinfo(fd: string): string {
  try {
    return readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    return '';
  }
}
