import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MS_RDONLY } from '../container/mount_options';
import { mountSteps, probedTags, waitForTags } from './share_table';

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
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'virtiofs-sysfs-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function probe(index: number, tag: string): void {
    mkdirSync(join(root, String(index)));
    writeFileSync(join(root, String(index), 'tag'), `${tag}\n`);
  }

  it("reads each device's tag, skips a device gone before its tag was read, and is undefined without the list", () => {
    probe(0, 'vfslayers');
    probe(1, 'vfsdata');
    mkdirSync(join(root, '2'));
    expect(probedTags(root)).toEqual(new Set(['vfslayers', 'vfsdata']));
    expect(probedTags(join(root, 'absent'))).toBeUndefined();
  });

  it('waits for tags that a hotplug adds later', async () => {
    probe(0, 'vfslayers');
    setTimeout(() => probe(1, 'vfsdata'), 100);
    const started = Date.now();
    await expect(waitForTags(new Set(['vfslayers', 'vfsdata']), Date.now() + 10_000, root)).resolves.toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(probedTags(root)).toEqual(new Set(['vfslayers', 'vfsdata']));
  });

  it('gives up at the deadline, leaving the mount to fail on the tag', async () => {
    probe(0, 'vfslayers');
    await expect(waitForTags(new Set(['vfsdata']), Date.now() + 60, root)).resolves.toBe(true);
  });

  it('answers false at once on a kernel that keeps no list', async () => {
    await expect(waitForTags(new Set(['vfsdata']), Date.now() + 10_000, join(root, 'absent'))).resolves.toBe(false);
  });
});
