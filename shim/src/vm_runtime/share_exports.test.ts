// What a guest can do to host files through the shares the shim makes, end to end on the host
// side: the sandbox's shares exported by a real vfs-virtiofsd (its default namespace sandbox, as
// the shim runs it), then a container's directories bound while it runs (planContainerShares →
// bindContainerDirs), driven over vhost-user by the FUSE test client the way a guest's kernel
// would. Needs root (mounts), like the daemon's own sandbox tests.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient } from '@vfs/contracts';
import { ENODATA, ENOTSUP, EROFS } from '@vfs/daemon/fuse';
import { bundleDaemonForTest } from '@vfs/harness/bundles';
import { hostPrograms } from '@vfs/harness/host_programs';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { errnoOf, FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { unmountAll } from '../host_mounts';
import { SandboxState } from '../sandbox_state';
import { bindContainerDirs } from './container_dirs';
import { addRequest, exportShare, makeSharesMountPoint, makeStagingMountPoint } from './share_exports';
import {
  containerShares,
  DATA_TAG,
  planContainerShares,
  type ContainerSharePlan,
  type SandboxShare,
} from './share_plan';

jest.setTimeout(60_000);

/** A valid v2 file capability (cap_net_raw+ep): the kernel would store it if the share let it through. */
const FILE_CAPABILITY = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, ...Array<number>(12).fill(0)]);

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The per-mount options of `target` in a mount table (/proc/<pid>/mountinfo). */
function mountOptions(mountinfo: string, target: string): string[] {
  const line = mountinfo.split('\n').find((l) => l.split(' ')[4] === target);
  if (line === undefined) throw new Error(`${target} is not mounted`);
  return (line.split(' ')[5] as string).split(',');
}

/** The daemon itself: the pid spawned is util-linux unshare, the daemon its child. */
function daemonPid(unsharePid: number): string {
  return readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(' ')[0] as string;
}

/** The mount table of the daemon's own mount namespace. */
function daemonMountinfo(unsharePid: number): string {
  return readFileSync(`/proc/${daemonPid(unsharePid)}/mountinfo`, 'utf8');
}

/** The host's xattrs are read and written with getfattr and setfattr. */
const attr = hostPrograms('getfattr', 'setfattr');

function hostXattrs(path: string): string {
  return execFileSync('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', path], { encoding: 'utf8' });
}

describe('shares as the daemon serves them', () => {
  let work: string;
  let sharesDir: string;
  let stagingDir: string;
  let state: SandboxState;
  let script: string;
  let daemon: ChildProcess;
  let control: ControlClient;
  let plan: ContainerSharePlan;
  let frontend: VhostUserFrontend | undefined;
  /** The guest's side of the read-write share (a vhost-user socket takes one frontend). */
  let upper: FuseClient;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vfs-shares-'));
    sharesDir = join(work, 'shares');
    stagingDir = join(work, 'staging');
    mkdirSync(sharesDir);
    for (const dir of ['layer', 'snap/fs', 'snap/work', 'vol/sub', 'vol/later'])
      mkdirSync(join(work, dir), { recursive: true });
    writeFileSync(join(work, 'snap', 'fs', 'host-file'), '');
    // The volume's host directory is a shared mount point, as under systemd's shared root.
    execFileSync('mount', ['--bind', '--make-shared', join(work, 'vol'), join(work, 'vol')]);
    execFileSync('mount', ['-t', 'tmpfs', 'vol-sub', join(work, 'vol', 'sub')]);
    state = new SandboxState(join(work, 'state'));
    state.create();
    plan = planContainerShares({
      containerIndex: 0,
      bundle: work,
      rootfs: [
        {
          type: 'overlay',
          source: 'overlay',
          target: '',
          options: [`lowerdir=${work}/layer`, `upperdir=${work}/snap/fs`, `workdir=${work}/snap/work`],
        },
      ],
      spec: {
        ociVersion: '1.0.2',
        mounts: [{ destination: '/data', type: 'bind', source: join(work, 'vol'), options: ['rbind', 'ro'] }],
      },
    });
    await makeSharesMountPoint(state, sharesDir, '');
    await makeStagingMountPoint(state, stagingDir, '');
    for (const share of containerShares({ cache: 'auto', dax_window_mib: 0 })) mkdirSync(join(sharesDir, share.tag));
    script = bundleDaemonForTest();
    const controlSocket = join(work, 'control.sock');
    daemon = spawn(
      process.execPath,
      [script, `--control-socket=${controlSocket}`, `--shared-dir=${sharesDir}`, '--log-level=error'],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
        detached: true,
      },
    );
    await until('the control socket', () => existsSync(controlSocket));
    control = await ControlClient.connect(controlSocket);
    for (const share of containerShares({ cache: 'auto', dax_window_mib: 0 }))
      await exportShare(control, share, join(work, `${share.tag}.sock`));
    // As a pod's next container: its directories are bound while the daemon runs.
    await bindContainerDirs(state, { sharesDir, stagingDir }, 'c1', plan.dirs);
    frontend = VhostUserFrontend.connect({
      socketPath: join(work, `${DATA_TAG}.sock`),
      memorySize: 16 << 20,
      queueSize: 128,
    });
    upper = new FuseClient(frontend);
    upper.init();
  });

  afterAll(async () => {
    frontend?.close();
    control?.close();
    if (daemon?.pid !== undefined) process.kill(-daemon.pid, 'SIGKILL');
    await unmountAll(state);
    // 'vol/later' is mounted only by its test: unmount what is there, deepest first.
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const target of ['vol/later', 'vol/sub', 'vol'].map((t) => join(work, t)))
      if (mounted.split('\n').some((l) => l.split(' ')[4] === target)) execFileSync('umount', ['--lazy', target]);
    rmSync(work, { recursive: true, force: true });
    rmSync(script, { force: true });
  });

  it('binds every directory nosuid,nodev, submounts of a recursive bind and read-only ones too', () => {
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const d of plan.dirs)
      expect(mountOptions(mountinfo, join(sharesDir, d.target))).toEqual(
        expect.arrayContaining(['nosuid', 'nodev', ...(d.readonly ? ['ro'] : [])]),
      );
    expect(mountOptions(mountinfo, join(sharesDir, DATA_TAG, 'c0-v0', 'sub'))).toEqual(
      expect.arrayContaining(['ro', 'nosuid', 'nodev']),
    );
  });

  it("carries those flags into the running daemon's own mount namespace", () => {
    const inDaemon = daemonMountinfo(daemon.pid as number);
    for (const d of plan.dirs)
      expect(mountOptions(inDaemon, join('/shared', d.target))).toEqual(
        expect.arrayContaining(['nosuid', 'nodev', ...(d.readonly ? ['ro'] : [])]),
      );
  });

  it("keeps a mount made later under a volume's host directory out of the daemon's view", () => {
    execFileSync('mount', ['-t', 'tmpfs', 'vol-later', join(work, 'vol', 'later')]);
    const inDaemon = daemonMountinfo(daemon.pid as number);
    expect(inDaemon).not.toContain('/c0-v0/later ');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(
      `${join(sharesDir, DATA_TAG, 'c0-v0', 'later')} `,
    );
  });

  it("keeps a device node the guest makes inert: it opens through neither the shim's bind nor the daemon's view", () => {
    const fs = upper.lookup(upper.lookup(1, 'c0-up').nodeid, 'fs');
    upper.mknod(fs.nodeid, 'null', 0o020666, (1 << 8) | 3);
    const inBind = join(sharesDir, DATA_TAG, 'c0-up', 'fs', 'null');
    const inDaemon = `/proc/${daemonPid(daemon.pid as number)}/root/shared/${DATA_TAG}/c0-up/fs/null`;
    for (const path of [inBind, inDaemon]) {
      expect(() => openSync(path, 'r')).toThrow(expect.objectContaining({ code: 'EACCES' }));
    }
    // What remains, as with runc: the node is in the host directory itself.
    expect(statSync(join(work, 'snap', 'fs', 'null')).rdev).toBe((1 << 8) | 3);
  });

  it('keeps a read-only volume read-only for the guest, though its share is read-write', () => {
    const volume = upper.lookup(1, 'c0-v0');
    expect(errnoOf(() => upper.create(volume.nodeid, 'nope', 0o1 /* O_WRONLY */, 0o644))).toBe(EROFS);
    expect(existsSync(join(work, 'vol', 'nope'))).toBe(false);
  });

  attr.it('lets the guest set user.* xattrs on a read-write share, and no security.*, trusted.* or system.*', () => {
    const c = upper;
    const dir = c.lookup(c.lookup(1, 'c0-up').nodeid, 'fs');
    const file = c.create(dir.nodeid, 'f', 0o1 /* O_WRONLY */, 0o644).entry;
    const hostPath = join(work, 'snap', 'fs', 'f');
    c.setxattr(dir.nodeid, 'user.overlay.opaque', Buffer.from('y'));
    c.setxattr(file.nodeid, 'user.x', Buffer.from('1'));
    expect((c.getxattr(file.nodeid, 'user.x', 8) as Buffer).toString()).toBe('1');
    expect(errnoOf(() => c.setxattr(file.nodeid, 'security.capability', FILE_CAPABILITY))).toBe(ENOTSUP);
    expect(errnoOf(() => c.setxattr(file.nodeid, 'trusted.x', Buffer.from('1')))).toBe(ENOTSUP);
    expect(errnoOf(() => c.setxattr(file.nodeid, 'system.posix_acl_access', Buffer.alloc(4)))).toBe(ENOTSUP);
    // What overlayfs does to its workdir: an error other than ENODATA/EOPNOTSUPP makes it read-only.
    expect(errnoOf(() => c.removexattr(dir.nodeid, 'system.posix_acl_default'))).toBe(ENOTSUP);
    expect(hostXattrs(hostPath)).toContain('user.x="1"');
    expect(hostXattrs(hostPath)).not.toMatch(/security\.|trusted\./);
    c.removexattr(file.nodeid, 'user.x');
    expect(errnoOf(() => c.getxattr(file.nodeid, 'user.x', 8))).toBe(ENODATA);
  });

  attr.it("hides the host's other xattrs from the guest", () => {
    const hostFile = join(work, 'snap', 'fs', 'host-file');
    execFileSync('setfattr', ['-n', 'security.capability', '-v', `0x${FILE_CAPABILITY.toString('hex')}`, hostFile]);
    execFileSync('setfattr', ['-n', 'trusted.host', '-v', '1', hostFile]);
    execFileSync('setfattr', ['-n', 'user.host', '-v', '1', hostFile]);
    const c = upper;
    const file = c.lookup(c.lookup(c.lookup(1, 'c0-up').nodeid, 'fs').nodeid, 'host-file');
    expect(c.listxattr(file.nodeid, 256)).toEqual(['user.host']);
    expect(errnoOf(() => c.getxattr(file.nodeid, 'trusted.host', 8))).toBe(ENOTSUP);
    expect(errnoOf(() => c.getxattr(file.nodeid, 'security.capability', 64))).toBe(ENOTSUP);
  });
});

describe('addRequest', () => {
  it('exports a share with a DAX window with dax on and that window, and one without with dax left out', () => {
    const [layers, data] = containerShares({ cache: 'auto', dax_window_mib: 256 }) as [SandboxShare, SandboxShare];
    expect(addRequest(layers, '/run/s/fs1.sock')).toMatchObject({ tag: 'vfslayers', dax: true, daxWindowMiB: 256 });
    expect(addRequest(data, '/run/s/fs2.sock')).toMatchObject({
      tag: DATA_TAG,
      readonly: false,
      dax: true,
      daxWindowMiB: 256,
    });
    const [plain] = containerShares({ cache: 'auto', dax_window_mib: 0 });
    const request = addRequest(plain as SandboxShare, '/run/s/fs1.sock');
    expect('dax' in request || 'daxWindowMiB' in request).toBe(false);
  });

  it('exports a share with a per-inode DAX threshold with daxMinFileKiB, one without it with the field left out', () => {
    const [inode] = containerShares({ cache: 'auto', dax_window_mib: 256, dax_min_file_kib: 2048 });
    expect(addRequest(inode as SandboxShare, '/s')).toMatchObject({
      dax: true,
      daxWindowMiB: 256,
      daxMinFileKiB: 2048,
    });
    const [always] = containerShares({ cache: 'auto', dax_window_mib: 256 });
    expect('daxMinFileKiB' in addRequest(always as SandboxShare, '/s')).toBe(false);
  });
});
