import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive, waitFor } from '@vfs/harness/process';
import { PLAN_STEP_ARITY, step } from '../container/launch_plan';
import { MS_RDONLY } from '../container/mount_options';
import { SpareLauncher } from '../container/spare_launcher';
import { mountSteps, probedTags, ShareTable, waitForTags } from './share_table';

/** A hotplug that lands later; cancelled after each test, so a failed one cannot fire into the next. */
const timers: NodeJS.Timeout[] = [];
function later(run: () => void, ms: number): void {
  timers.push(setTimeout(run, ms));
}
/** Each test's own directory: the stand-in sysfs, launcher and its log. */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'share-table-'));
});
afterEach(() => {
  for (const timer of timers.splice(0)) clearTimeout(timer);
  rmSync(dir, { recursive: true, force: true });
});

describe('mountSteps', () => {
  it("passes a share's options to mount(2) as the virtiofs data, and read-only as MS_RDONLY", () => {
    const share = {
      tag: 'vfslayers',
      mountPoint: '/run/vfs/shares/vfslayers',
      readonly: true,
      options: ['dax=always'],
    };
    expect(mountSteps(share)).toEqual([
      ['mkdirp', '/run/vfs/shares/vfslayers', '755'],
      ['mount', 'vfslayers', '/run/vfs/shares/vfslayers', 'virtiofs', MS_RDONLY, 'dax=always'],
    ]);
  });

  it('mounts a share without options read-write with empty data', () => {
    const share = { tag: 'vfsdata', mountPoint: '/run/vfs/shares/vfsdata', readonly: false, options: [] };
    expect(mountSteps(share)[1]).toEqual(['mount', 'vfsdata', '/run/vfs/shares/vfsdata', 'virtiofs', 0, '']);
  });
});

describe("the kernel's list of probed virtio-fs tags", () => {
  function probe(index: number, tag: string): void {
    mkdirSync(join(dir, String(index)));
    writeFileSync(join(dir, String(index), 'tag'), `${tag}\n`);
  }

  it("reads each device's tag, skips a device gone before its tag was read, and is undefined without the list", () => {
    probe(0, 'vfslayers');
    probe(1, 'vfsdata');
    mkdirSync(join(dir, '2'));
    expect(probedTags(dir)).toEqual(new Set(['vfslayers', 'vfsdata']));
    expect(probedTags(join(dir, 'absent'))).toBeUndefined();
  });

  it('waits for tags that a hotplug adds later', async () => {
    probe(0, 'vfslayers');
    later(() => probe(1, 'vfsdata'), 100);
    const started = Date.now();
    await expect(waitForTags(new Set(['vfslayers', 'vfsdata']), Date.now() + 10_000, dir)).resolves.toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(probedTags(dir)).toEqual(new Set(['vfslayers', 'vfsdata']));
  });

  it('gives up at the deadline, leaving the mount to fail on the tag', async () => {
    probe(0, 'vfslayers');
    await expect(waitForTags(new Set(['vfsdata']), Date.now() + 60, dir)).resolves.toBe(true);
  });

  it('answers false at once on a kernel that keeps no list', async () => {
    await expect(waitForTags(new Set(['vfsdata']), Date.now() + 10_000, join(dir, 'absent'))).resolves.toBe(false);
  });
});

// A stand-in for vfs-launcher that speaks its protocol (plan on fd 3, status lines on fd 4) and
// mounts nothing: a mount succeeds once `<tags>/<tag>` exists, else fails with ENOENT as Linux
// does for a tag it has not probed; every step that ran is logged. It injects the hot-plug delay
// the real guest shows only sometimes.
function fakeLauncher(dir: string): { path: string; tags: string; log: string } {
  const tags = join(dir, 'probed');
  const log = join(dir, 'steps.log');
  mkdirSync(tags);
  const path = join(dir, 'fake-launcher');
  writeFileSync(
    path,
    `#!${process.execPath}
const fs = require('node:fs');
const arity = ${JSON.stringify(PLAN_STEP_ARITY)};
const byte = Buffer.alloc(1);
let header = '';
while (fs.readSync(3, byte) === 1 && byte[0] !== 10) header += String.fromCharCode(byte[0]);
const body = Buffer.alloc(Number(header));
for (let got = 0; got < body.length; ) got += fs.readSync(3, body, got, body.length - got);
const tokens = body.toString().split('\\0').slice(0, -1);
for (let i = 0; i < tokens.length; i += 1 + arity[tokens[i]]) {
  const [name, arg] = [tokens[i], tokens[i + 1]];
  if (name === 'mount' && !fs.existsSync(${JSON.stringify(tags)} + '/' + arg)) {
    fs.writeSync(4, 'error 2 mount(' + arg + '): ENOENT\\n');
    process.exit(1);
  }
  fs.appendFileSync(${JSON.stringify(log)}, name + ' ' + arg + '\\n');
}
fs.writeSync(4, 'done\\n');
`,
  );
  chmodSync(path, 0o755);
  return { path, tags, log };
}

describe('ShareTable on a kernel that lists its tags', () => {
  it('waits until every tag is listed, then mounts them all in one run', async () => {
    const launcher = fakeLauncher(dir);
    const sysfs = join(dir, 'sysfs');
    const probe = (index: number, tag: string) => {
      mkdirSync(join(sysfs, String(index)), { recursive: true });
      writeFileSync(join(sysfs, String(index), 'tag'), `${tag}\n`);
      writeFileSync(join(launcher.tags, tag), '');
    };
    probe(0, 'vfslayers');
    later(() => probe(1, 'vfsdata'), 300);
    const table = new ShareTable(launcher.path, { sysfsRoot: sysfs });
    const shares = ['vfslayers', 'vfsdata'].map((tag) => ({
      tag,
      mountPoint: `/s/${tag}`,
      readonly: true,
      options: [],
    }));
    const called = Date.now();
    let madeAfterMs = -1;
    const before = () => {
      madeAfterMs = Date.now() - called;
      return [step('hostname', 'pod')];
    };
    await table.mount(shares, before, 10_000);
    expect(readFileSync(launcher.log, 'utf8')).toBe(
      'hostname pod\nmkdirp /s/vfslayers\nmount vfslayers\nmkdirp /s/vfsdata\nmount vfsdata\n',
    );
    // Made once the tags were there, not when mount was called (a clock step must not lag).
    expect(madeAfterMs).toBeGreaterThanOrEqual(250);
  });
});

describe('ShareTable on a kernel that lists no tags', () => {
  const share = (tag: string) => ({ tag, mountPoint: `/run/vfs/shares/${tag}`, readonly: false, options: [] });

  it('mounts each share in a run of its own, trying again only the one whose tag comes late', async () => {
    const launcher = fakeLauncher(dir);
    writeFileSync(join(launcher.tags, 'vfslayers'), '');
    const table = new ShareTable(launcher.path, { sysfsRoot: join(dir, 'no-sysfs') });
    later(() => writeFileSync(join(launcher.tags, 'vfsdata'), ''), 300);
    await table.mount([share('vfslayers'), share('vfsdata')], () => [step('hostname', 'pod')], 10_000);
    const ran = readFileSync(launcher.log, 'utf8').trim().split('\n');
    expect(ran.filter((line) => !line.startsWith('mkdirp'))).toEqual([
      'hostname pod',
      'mount vfslayers',
      'mount vfsdata',
    ]);
    expect(table.resolve({ tag: 'vfsdata', path: 'a' }, 'x')).toBe('/run/vfs/shares/vfsdata/a');
  });

  it('fails naming the tag once the wait is over, and mounts at once without a wait', async () => {
    const launcher = fakeLauncher(dir);
    const table = new ShareTable(launcher.path, { sysfsRoot: join(dir, 'no-sysfs') });
    await expect(table.mount([share('vfsdata')], undefined, 200)).rejects.toThrow(/mount\(vfsdata\): ENOENT/);
    await expect(table.mount([share('vfsdata')])).rejects.toThrow(/ENOENT/);
    expect(existsSync(launcher.log)).toBe(true); // the mkdirp steps ran, no mount did
    expect(readFileSync(launcher.log, 'utf8')).not.toMatch(/^mount/m);
  });
});

describe('ShareTable with launchers started ahead', () => {
  let spares: SpareLauncher | undefined;
  afterEach(() => spares?.close());

  it("runs its plan in a waiting launcher, as CreateSandbox's run is on a sandbox's start path", async () => {
    const launcher = fakeLauncher(dir);
    writeFileSync(join(launcher.tags, 'vfsdata'), '');
    spares = new SpareLauncher(launcher.path, 60_000, 1);
    spares.fill();
    const [waiting] = spares.waitingPids;
    expect(waiting).toBeDefined();
    const table = new ShareTable(launcher.path, { sysfsRoot: join(dir, 'no-sysfs'), spare: spares });
    const share = { tag: 'vfsdata', mountPoint: '/run/vfs/shares/vfsdata', readonly: false, options: [] };
    await table.mount([share], () => [step('hostname', 'pod')]);
    expect(spares.waitingPids).toEqual([]);
    await waitFor('the taken launcher exited', () => !pidAlive(waiting as number));
    expect(readFileSync(launcher.log, 'utf8')).toMatch(/^hostname pod\n.*mount vfsdata\n$/s);
  });
});
