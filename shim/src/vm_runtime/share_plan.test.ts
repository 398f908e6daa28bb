import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  containerShares,
  DATA_TAG,
  GUEST_SHARES_DIR,
  guestShareMounts,
  LAYERS_TAG,
  planContainerShares,
  USER_XATTRS_AND_ACLS,
  USER_XATTRS_ONLY,
  type PlanInput,
} from './share_plan';

describe('planContainerShares', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-plan-'));
    mkdirSync(join(dir, 'vol'));
    writeFileSync(join(dir, 'hosts'), '');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const input = (over: Partial<PlanInput>): PlanInput => ({
    containerIndex: 3,
    bundle: dir,
    rootfs: [],
    spec: { ociVersion: '1.0.2' },
    ...over,
  });

  it('exports the layers read-only with cache=always, and the data share read-write with user.* xattrs only', () => {
    expect(containerShares({ cache: 'none', dax_window_mib: 0 })).toEqual([
      { tag: LAYERS_TAG, readonly: true, cache: 'always', xattr: true },
      { tag: DATA_TAG, readonly: false, cache: 'none', xattr: true, xattrmap: USER_XATTRS_ONLY },
    ]);
  });

  it('with [daemon] posix_acl, lets the ACL xattrs through the data share too', () => {
    const [, data] = containerShares({ cache: 'auto', dax_window_mib: 0, posix_acl: true });
    expect(data?.xattrmap).toBe(USER_XATTRS_AND_ACLS);
    // Both ways (the guest's names and the host's listing), ahead of the user.* rules.
    expect(USER_XATTRS_AND_ACLS).toBe(`:ok:all:system.posix_acl_:system.posix_acl_: ${USER_XATTRS_ONLY}`);
  });

  it('gives both shares the configured DAX window, and none without one', () => {
    const shares = containerShares({ cache: 'auto', dax_window_mib: 256 });
    expect(shares.map((share) => [share.tag, share.daxWindowMib])).toEqual([
      [LAYERS_TAG, 256],
      [DATA_TAG, 256],
    ]);
    expect(containerShares({ cache: 'auto', dax_window_mib: 0 }).some((s) => 'daxWindowMib' in s)).toBe(false);
  });

  it('has the guest mount both shares dax=always when they have a DAX window, with no options otherwise', () => {
    expect(guestShareMounts({ cache: 'auto', dax_window_mib: 256 })).toEqual([
      { tag: LAYERS_TAG, mountPoint: `${GUEST_SHARES_DIR}/${LAYERS_TAG}`, readonly: true, options: ['dax=always'] },
      { tag: DATA_TAG, mountPoint: `${GUEST_SHARES_DIR}/${DATA_TAG}`, readonly: false, options: ['dax=always'] },
    ]);
    expect(guestShareMounts({ cache: 'auto', dax_window_mib: 0 }).map((m) => m.options)).toEqual([[], []]);
  });

  it('with a per-inode DAX threshold, passes it to both exports and has the guest mount them dax=inode', () => {
    const settings = { cache: 'auto', dax_window_mib: 256, dax_min_file_kib: 2048 } as const;
    expect(containerShares(settings).map((share) => [share.tag, share.daxWindowMib, share.daxMinFileKiB])).toEqual([
      [LAYERS_TAG, 256, 2048],
      [DATA_TAG, 256, 2048],
    ]);
    expect(guestShareMounts(settings).map((m) => m.options)).toEqual([['dax=inode'], ['dax=inode']]);
    const always = containerShares({ ...settings, dax_min_file_kib: 0 });
    expect(always.some((s) => 'daxMinFileKiB' in s)).toBe(false);
  });

  it('puts each overlay lower in the layers share, and the snapshot dir holding upper and work in the data share', () => {
    const plan = planContainerShares(
      input({
        rootfs: [
          {
            type: 'overlay',
            source: 'overlay',
            target: '',
            options: ['lowerdir=/s/3/fs:/s/1/fs', 'upperdir=/s/4/fs', 'workdir=/s/4/work'],
          },
        ],
      }),
    );
    expect(plan.dirs.map((d) => [d.target, d.source, d.readonly])).toEqual([
      [`${LAYERS_TAG}/c3-l0`, '/s/3/fs', true],
      [`${LAYERS_TAG}/c3-l1`, '/s/1/fs', true],
      [`${DATA_TAG}/c3-up`, '/s/4', false],
    ]);
    expect(plan.rootfs.kind).toEqual({
      $case: 'overlay',
      overlay: {
        lower: [
          { tag: LAYERS_TAG, path: 'c3-l0' },
          { tag: LAYERS_TAG, path: 'c3-l1' },
        ],
        upper: { tag: DATA_TAG, path: 'c3-up/fs' },
        work: { tag: DATA_TAG, path: 'c3-up/work' },
        options: [],
      },
    });
  });

  it('rejects an upperdir and workdir in different directories', () => {
    expect(() =>
      planContainerShares(
        input({
          rootfs: [
            {
              type: 'overlay',
              source: 'overlay',
              target: '',
              options: ['lowerdir=/a', 'upperdir=/b/fs', 'workdir=/c/work'],
            },
          ],
        }),
      ),
    ).toThrow(/siblings/);
  });

  it('uses a read-only bind snapshot as a read-only directory rootfs, and the bundle rootfs when there is no mount', () => {
    const view = planContainerShares(
      input({ rootfs: [{ type: 'bind', source: '/s/1/fs', target: '', options: ['ro', 'rbind'] }] }),
    );
    expect(view.rootfs.kind).toEqual({
      $case: 'directory',
      directory: { dir: { tag: DATA_TAG, path: 'c3-root' }, readonly: true },
    });
    expect(view.dirs[0]).toMatchObject({ readonly: true, recursive: true });
    expect(planContainerShares(input({})).dirs[0]).toMatchObject({ source: join(dir, 'rootfs'), readonly: false });
    expect(planContainerShares(input({ spec: { ociVersion: '1.0.2', root: { path: '/r' } } })).dirs[0]?.source).toBe(
      '/r',
    );
  });

  it('turns OCI bind mounts into entries of the data share (a file bound as a file, straight in the share) and drops them from the spec', () => {
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
      { source: { tag: DATA_TAG, path: 'c3-v0' }, destination: '/data', readonly: true, options: [] },
      {
        source: { tag: DATA_TAG, path: 'c3-v1' },
        destination: '/etc/hosts',
        readonly: false,
        options: ['rprivate'],
      },
    ]);
    expect(plan.dirs.slice(1).map((d) => [d.target, d.wrapsFile, d.readonly])).toEqual([
      [`${DATA_TAG}/c3-v0`, false, true],
      [`${DATA_TAG}/c3-v1`, true, false],
    ]);
    expect(JSON.parse(plan.specJson).mounts).toEqual([{ destination: '/proc', type: 'proc', source: 'proc' }]);
  });
});
