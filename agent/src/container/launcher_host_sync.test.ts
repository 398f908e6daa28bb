// The launcher's settime and reseed steps (launcher/host_sync.c), run for real: the launcher is
// compiled as `make runtime` compiles it and run on this host, whose random device answers the same
// ioctls as the guest's. Only reseed runs to success here (it mixes random bytes into the host's
// pool, crediting none); settime is run only with a value it must refuse, so the host clock is
// never set.
import { randomBytes } from 'node:crypto';
import { buildHostLauncher, type HostLauncher } from '../../test_support/host_launcher';
import { type PlanStep, step } from './launch_plan';
import { Launch } from './process_launcher';

describe('the launcher steps a VM resumed from a template runs', () => {
  let launcher: HostLauncher;
  beforeAll(() => {
    launcher = buildHostLauncher('vfs-launcher-sync-');
  });
  afterAll(() => launcher.remove());

  const run = (plan: readonly PlanStep[]): Promise<void> =>
    new Launch({ launcherPath: launcher.path, plan, context: {} }).done;

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
