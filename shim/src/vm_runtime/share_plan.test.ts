import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planContainerShares, USER_XATTRS_ONLY, type PlanInput } from './share_plan';

describe('planContainerShares', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-plan-'));
    mkdirSync(join(dir, 'vol'));
    writeFileSync(join(dir, 'hosts'), '');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const input = (over: Partial<PlanInput>): PlanInput => ({ containerIndex: 3, bundle: dir, rootfs: [], spec: { ociVersion: '1.0.2' }, cache: 'auto', ...over });

  it('shares each overlay lower read-only (cache always) and the snapshot dir holding upper and work read-write', () => {
    const plan = planContainerShares(input({ rootfs: [{ type: 'overlay', source: 'overlay', target: '', options: ['lowerdir=/s/3/fs:/s/1/fs', 'upperdir=/s/4/fs', 'workdir=/s/4/work'] }] }));
    expect(plan.shares.map((s) => [s.tag, s.source, s.readonly, s.cache, s.xattr, s.xattrmap])).toEqual([
      ['c3-l0', '/s/3/fs', true, 'always', true, undefined],
      ['c3-l1', '/s/1/fs', true, 'always', true, undefined],
      ['c3-up', '/s/4', false, 'auto', true, USER_XATTRS_ONLY],
    ]);
  });

  it('rejects an upperdir and workdir in different directories', () => {
    expect(() => planContainerShares(input({ rootfs: [{ type: 'overlay', source: 'overlay', target: '', options: ['lowerdir=/a', 'upperdir=/b/fs', 'workdir=/c/work'] }] }))).toThrow(/siblings/);
  });

  it('uses a read-only bind snapshot as a read-only directory rootfs, and the bundle rootfs when there is no mount', () => {
    const view = planContainerShares(input({ rootfs: [{ type: 'bind', source: '/s/1/fs', target: '', options: ['ro', 'rbind'] }] }));
    expect(view.rootfs.kind).toEqual({ $case: 'directory', directory: { dir: { tag: 'c3-root', path: '' }, readonly: true } });
    expect(view.shares[0]?.xattrmap).toBeUndefined();
    expect(planContainerShares(input({})).shares[0]).toMatchObject({ source: join(dir, 'rootfs'), xattrmap: USER_XATTRS_ONLY });
    expect(planContainerShares(input({ spec: { ociVersion: '1.0.2', root: { path: '/r' } } })).shares[0]?.source).toBe('/r');
  });

  it('turns OCI bind mounts into shares (a file inside a directory of its own) and drops them from the spec', () => {
    const spec = {
      ociVersion: '1.0.2',
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/data', type: 'bind', source: join(dir, 'vol'), options: ['rbind', 'ro'] },
        { destination: '/etc/hosts', type: 'bind', source: join(dir, 'hosts'), options: ['rbind', 'rprivate'] },
      ],
    };
    const plan = planContainerShares(input({ spec }));
    expect(plan.mounts).toEqual([
      { source: { tag: 'c3-v0', path: '' }, destination: '/data', readonly: true, options: [] },
      { source: { tag: 'c3-v1', path: 'file' }, destination: '/etc/hosts', readonly: false, options: ['rprivate'] },
    ]);
    expect(plan.shares.slice(1).map((s) => [s.target, s.wrapsFile, s.readonly, s.xattrmap])).toEqual([
      ['c3-v0', false, true, undefined],
      ['c3-v1/file', true, false, USER_XATTRS_ONLY],
    ]);
    expect(JSON.parse(plan.specJson).mounts).toEqual([{ destination: '/proc', type: 'proc', source: 'proc' }]);
  });
});
