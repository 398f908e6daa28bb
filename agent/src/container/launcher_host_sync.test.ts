// The launcher's settime and reseed steps (launcher/host_sync.c), run for real: the launcher is
// compiled as `make runtime` compiles it and run on this host, whose random device answers the same
// ioctls as the guest's. Only reseed runs to success here (it mixes random bytes into the host's
// pool, crediting none); settime is run only with a value it must refuse, so the host clock is
// never set.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PlanStep, step } from './launch_plan';
import { Launch } from './process_launcher';

const RUNTIME_SRC = join(__dirname, '..', '..', 'runtime');

describe('the launcher steps a VM resumed from a template runs', () => {
  let dir: string;
  let launcher: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-launcher-sync-'));
    launcher = join(dir, 'vfs-launcher');
    execFileSync('bash', [join(RUNTIME_SRC, 'build-launcher.sh'), join(RUNTIME_SRC, 'launcher'), launcher], {
      stdio: 'ignore',
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (plan: readonly PlanStep[]): Promise<void> =>
    new Launch({ launcherPath: launcher, plan, context: {} }).done;

  it('mixes host bytes into the kernel entropy pool and reseeds', async () => {
    await expect(run([step('reseed', randomBytes(64).toString('hex'))])).resolves.toBeUndefined();
  });

  it('refuses entropy that is not hex, odd, or too long', async () => {
    await expect(run([step('reseed', 'zz')])).rejects.toThrow(/lowercase hex/);
    await expect(run([step('reseed', 'abc')])).rejects.toThrow(/1\.\.256 bytes/);
    await expect(run([step('reseed', 'ab'.repeat(257))])).rejects.toThrow(/1\.\.256 bytes/);
  });

  it('refuses a host time that is not a number of milliseconds', async () => {
    await expect(run([step('settime', Number.NaN)])).rejects.toThrow(/bad host time/);
  });
});
