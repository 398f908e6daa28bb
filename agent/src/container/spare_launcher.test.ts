// The spare launcher with the real vfs-launcher, compiled as `make runtime` compiles it and run on
// this host with a plan that touches nothing but its own umask.
import { dirname, join } from 'node:path';
import { pidAlive, waitFor } from '@vfs/harness/process';
import { buildHostLauncher, type HostLauncher } from '../../test_support/host_launcher';
import { step } from './launch_plan';
import { Launch } from './process_launcher';
import { SPARES, SpareLauncher } from './spare_launcher';

const REFILL_MS = 50;

describe('a launcher started ahead of its plan', () => {
  let built: HostLauncher;
  let launcher: string;
  let spares: SpareLauncher | undefined;
  beforeAll(() => {
    built = buildHostLauncher('vfs-spare-launcher-');
    launcher = built.path;
  });
  afterEach(() => spares?.close());
  afterAll(() => built.remove());

  const run = (spare: SpareLauncher): Launch =>
    new Launch({ launcherPath: spare.launcherPath, spare, plan: [step('umask', '022')], context: {} });

  it('runs the next plan, and another spare starts after the refill delay', async () => {
    spares = new SpareLauncher(launcher, REFILL_MS, 1);
    spares.fill();
    const [first] = spares.waitingPids;
    expect(first).toBeDefined();
    const launch = run(spares);
    expect(launch.launcherPid).toBe(first);
    expect(spares.waitingPids).toEqual([]);
    await expect(launch.done).resolves.toBeUndefined();
    await waitFor('a new spare waits', () => spares?.waitingPids.length === 1);
    const [second] = spares.waitingPids as [number];
    expect(second).not.toBe(first);
    await expect(run(spares).done).resolves.toBeUndefined();
    await waitFor('the second spare has run its plan and exited', () => !pidAlive(second));
  });

  it('hands out the next spare that still waits, past one that died', async () => {
    spares = new SpareLauncher(launcher, 60_000);
    spares.fill();
    await waitFor('both spares wait', () => spares?.waitingPids.length === 2);
    const [dead, alive] = spares.waitingPids as [number, number];
    process.kill(dead, 'SIGKILL');
    await waitFor('the first spare is seen dead', () => spares?.waitingPids.length === 1);
    const launch = run(spares);
    expect(launch.launcherPid).toBe(alive);
    await expect(launch.done).resolves.toBeUndefined();
  });

  it('makes the spares up only once the takes have paused for the refill delay', async () => {
    spares = new SpareLauncher(launcher, 1000, 1);
    spares.fill();
    await expect(run(spares).done).resolves.toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 700));
    // A take within the delay puts the refill off again: past the first take's delay, none waits.
    await expect(run(spares).done).resolves.toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(spares.waitingPids).toEqual([]);
    await waitFor('the spare is made up', () => spares?.waitingPids.length === 1);
  });

  it('replaces a spare that died before its plan with a launcher started then', async () => {
    spares = new SpareLauncher(launcher, REFILL_MS, 1);
    spares.fill();
    const [dead] = spares.waitingPids as [number];
    process.kill(dead, 'SIGKILL');
    await waitFor('the spare is seen dead', () => spares?.waitingPids.length === 0);
    const launch = run(spares);
    expect(launch.launcherPid).toBeDefined();
    expect(launch.launcherPid).not.toBe(dead);
    await expect(launch.done).resolves.toBeUndefined();
  });

  it('fails the launch that takes a spare which cannot run, and says why', async () => {
    spares = new SpareLauncher(join(dirname(launcher), 'missing-launcher'), REFILL_MS, 1);
    spares.fill();
    await new Promise((resolve) => setImmediate(resolve));
    await expect(run(spares).done).rejects.toThrow(/missing-launcher.*ENOENT/);
  });

  it('leaves no launcher behind once closed, and starts no more', async () => {
    spares = new SpareLauncher(launcher, REFILL_MS, 1);
    spares.fill();
    const [pid] = spares.waitingPids as [number];
    await expect(run(spares).done).resolves.toBeUndefined();
    spares.close();
    await new Promise((resolve) => setTimeout(resolve, REFILL_MS * 3));
    expect(spares.waitingPids).toEqual([]);
    await waitFor('the taken launcher exited', () => !pidAlive(pid));
    spares.fill();
    expect(spares.waitingPids).toEqual([]);
  });

  it('stops every waiting spare when closed', async () => {
    spares = new SpareLauncher(launcher, REFILL_MS);
    spares.fill();
    await waitFor('both spares wait', () => spares?.waitingPids.length === SPARES);
    const pids = spares.waitingPids;
    spares.close();
    await waitFor('the spares exited', () => pids.every((pid) => !pidAlive(pid)));
  });

  it("keeps one for a sandbox's start and one for its first container, and makes both up later", async () => {
    spares = new SpareLauncher(launcher, REFILL_MS);
    spares.fill();
    // One per turn: each start is a fork and exec the event loop waits out.
    expect(spares.waitingPids).toHaveLength(1);
    await waitFor('both spares wait', () => spares?.waitingPids.length === 2);
    const ahead = spares.waitingPids;
    const launches = [run(spares), run(spares)];
    expect(launches.map((launch) => launch.launcherPid)).toEqual(ahead);
    // A third launch in the same turn starts its own.
    const third = run(spares);
    expect(ahead).not.toContain(third.launcherPid);
    await Promise.all([...launches, third].map((launch) => launch.done));
    await waitFor('two new spares wait', () => spares?.waitingPids.length === 2);
    expect(spares.waitingPids.some((pid) => ahead.includes(pid))).toBe(false);
  });
});
