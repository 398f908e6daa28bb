import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseSpareDirName, spareShimsDir } from '@vfs/contracts';
import { bundleTestShim } from '@vfs/harness/bundles';
import { pidAlive, waitFor } from '@vfs/harness/process';
import { servingShimPid, type ShimBundle, shimBundle, shimStart } from '@vfs/harness/shim_bundle';
import { REPO_ROOT } from '@vfs/harness/repo';
import pino from 'pino';
import { SpareShims } from './spare_shims';

// The pool's side with real spares: the shim frame around the host-process test double (as the
// e2e tests run it), claimed through the program's real /bin/sh prologue.

describe("the warm pool's spare shims", () => {
  let program: string;
  let dir: string;
  let run: string;
  let bundle: string;
  let made: ShimBundle;
  let spares: SpareShims | undefined;
  const servers: number[] = [];

  beforeAll(() => {
    program = join(bundleTestShim(), 'containerd-shim-vfs-v2');
  });

  beforeEach(() => {
    mkdirSync(join(REPO_ROOT, 'build'), { recursive: true });
    dir = mkdtempSync(join(REPO_ROOT, 'build', 'spare-shims-test-'));
    run = join(dir, 'run');
    made = shimBundle(join(dir, 'bundle'));
    bundle = made.dir;
    process.env.VFS_RUN_DIR = run;
  });

  afterEach(async () => {
    await spares?.stop();
    spares = undefined;
    for (const pid of servers.splice(0)) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    delete process.env.VFS_RUN_DIR;
    made.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const stages = (): string[] => {
    try {
      return readdirSync(spareShimsDir(run)).map((name) => parseSpareDirName(name)?.stage ?? name);
    } catch {
      return [];
    }
  };

  const start = (id: string): string => shimStart(program, id, { runDir: run, socketDir: dir, bundle });

  const server = (id: string): number => servingShimPid(run, id);

  it('keeps its count of spares ready, replaces a claimed one, and leaves nothing behind when stopped', async () => {
    spares = new SpareShims({ program, runDir: run, count: 2, refillDelayMs: 0, log: pino({ level: 'silent' }) });
    spares.start();
    await waitFor('two spares ready', () => stages().filter((s) => s === 'spare').length === 2);
    const before = new Set(readdirSync(spareShimsDir(run)));

    // A start held to fewer CPUs is refused (its own Node serves it), and the pool hears why.
    const refusedBy = execFileSync(
      'taskset',
      [
        '-c',
        '0',
        program,
        '-namespace',
        'ns',
        '-address',
        join(dir, 'c.sock'),
        '-id',
        'sb0',
        '-bundle',
        bundle,
        'start',
      ],
      { cwd: bundle, env: { ...process.env, TTRPC_ADDRESS: join(dir, 'c.sock.ttrpc') }, input: '', encoding: 'utf8' },
    );
    expect(refusedBy).toContain('unix://');
    servers.push(server('sb0'));
    await waitFor('the refusal counted', () => spares?.status().refused === 1);

    start('sb1');
    const claimed = server('sb1');
    servers.push(claimed);
    await waitFor(
      'a claim seen and a replacement ready',
      () => spares?.status().claimed === 1 && stages().filter((s) => s === 'spare').length === 2,
    );
    expect(readdirSync(spareShimsDir(run)).filter((name) => before.has(name))).toHaveLength(1);
    expect(spares.status().running).toBe(2);

    const running = [...new Set(readdirSync('/proc').filter((p) => /^\d+$/.test(p)))].map(Number).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(`${program}\0-id\0`);
      } catch {
        return false;
      }
    });
    expect(running.filter((pid) => pid !== claimed)).toHaveLength(2);

    await spares.stop();
    spares = undefined;
    for (const pid of running.filter((p) => p !== claimed)) expect(pidAlive(pid)).toBe(false);
    expect(existsSync(spareShimsDir(run))).toBe(false);
    // The claimed spare is the sandbox's now: the pool's stop leaves it serving.
    expect(pidAlive(claimed)).toBe(true);
  });

  it('stops at once when its program cannot be started', async () => {
    const missing = new SpareShims({
      program: join(dir, 'no-such-shim'),
      runDir: run,
      count: 1,
      refillDelayMs: 0,
      log: pino({ level: 'silent' }),
    });
    missing.start();
    await sleep(100);
    await missing.stop();
    expect(missing.status().running).toBe(0);
  });

  it('replaces a spare that died unclaimed', async () => {
    spares = new SpareShims({ program, runDir: run, count: 1, refillDelayMs: 0, log: pino({ level: 'silent' }) });
    spares.start();
    await waitFor('a spare ready', () => stages().includes('spare'));
    const [first] = readdirSync(spareShimsDir(run));
    const pid = Number(
      readdirSync('/proc').find((p) => {
        try {
          return (
            /^\d+$/.test(p) &&
            readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(
              `-id\0${parseSpareDirName(first as string)?.id}\0spare`,
            )
          );
        } catch {
          return false;
        }
      }),
    );
    process.kill(pid, 'SIGKILL');
    await waitFor(
      'another spare ready',
      () => {
        const names = readdirSync(spareShimsDir(run));
        return names.length === 1 && names[0] !== first && names[0]?.endsWith('.spare') === true;
      },
      20_000,
    );
  }, 30_000);
});
