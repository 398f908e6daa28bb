// Fault injection for volume hotplug (beside the real e2e/volumes.test.ts): a failure at each step
// of an add — the export, QMP, a device the guest never sees, the container's mount — leaves
// nothing half-made (no bind, export, device or slot) and names the step. The host binds are real
// (root), the daemon, QEMU and the agent are fakes that record what they were asked.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControlClient } from '@vfs/contracts';
import pino from 'pino';
import { mountsUnder, unmountAll } from '../host_mounts';
import { SandboxState } from '../sandbox_state';
import { type GuestRelease, RootPortPool } from '../vm/fs_hotplug';
import type { AgentClient } from './agent_dial';
import { sandboxLayout } from './sandbox_layout';
import { makeSharesMountPoint, makeStagingMountPoint } from './share_exports';
import type { ControlledVm } from './vm_control';
import { VolumeHotplug } from './volume_hotplug';
import { USER_XATTRS_AND_ACLS, USER_XATTRS_ONLY } from './share_plan';

type Step = 'export' | 'device' | 'guest' | 'container';

describe('volume hotplug, fault by fault', () => {
  let dir: string;
  let state: SandboxState;
  let calls: string[];
  let failAt: Step | undefined;
  /** The xattr map of each export asked for, by tag. */
  let maps: Map<string, string | undefined>;

  const fail = (step: Step, message: string): void => {
    if (failAt === step) throw new Error(message);
  };
  const control = {
    add: async (share: { tag: string; xattrmap?: string }) => {
      calls.push(`export ${share.tag}`);
      maps.set(share.tag, share.xattrmap);
      fail('export', 'export refused');
    },
    remove: async (tag: string) => void calls.push(`unexport ${tag}`),
  } as unknown as ControlClient;
  const vm = {
    addFsDevice: async (device: { id: string; port: string }) => {
      calls.push(`device_add ${device.id} ${device.port}`);
      fail('device', 'GenericError: no slot');
    },
    removeFsDevice: async (id: string, _timeoutMs: number, guestRelease?: GuestRelease) => {
      await guestRelease?.run();
      calls.push(`device_del ${id}${guestRelease?.freesDevice === false ? ' at once' : ''}`);
    },
  } as unknown as ControlledVm;
  const agent = {
    mountShare: async (request: { share: { tag: string } }) => {
      calls.push(`guest mount ${request.share.tag}`);
      fail('guest', 'share vol0: tag not found');
    },
    unmountShare: async (request: { tag: string; pciSlot: number }) =>
      void calls.push(`guest umount ${request.tag} slot ${request.pciSlot}`),
    addContainerMount: async (request: { mount: { destination: string } }) => {
      calls.push(`container mount ${request.mount.destination}`);
      fail('container', '/proc is a mount point already');
    },
    removeContainerMount: async (request: { destination: string }) =>
      void calls.push(`container umount ${request.destination}`),
  } as unknown as AgentClient;

  const hotplug = (nativePcieHotplug = true, posixAcl = false): VolumeHotplug => {
    const layout = sandboxLayout(join(dir, 'run'), 'ns', 'sb');
    mkdirSync(layout.sharesDir, { recursive: true });
    mkdirSync(layout.socketDir, { recursive: true });
    return new VolumeHotplug({
      state,
      layout,
      control,
      vm,
      agent,
      ports: new RootPortPool(1),
      cache: 'auto',
      posixAcl,
      requestTimeoutMs: 1000,
      nativePcieHotplug,
      log: pino({ level: 'silent' }),
    });
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-volhp-'));
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'f'), 'x');
    state = new SandboxState(join(dir, 'state'));
    state.create();
    const layout = sandboxLayout(join(dir, 'run'), 'ns', 'sb');
    mkdirSync(layout.sharesDir, { recursive: true });
    await makeSharesMountPoint(state, layout.sharesDir, '');
    await makeStagingMountPoint(state, layout.stagingDir, '');
    calls = [];
    maps = new Map();
    failAt = undefined;
  });
  afterEach(async () => {
    await unmountAll(state);
    rmSync(dir, { recursive: true, force: true });
  });

  const request = { containerId: 'c1', source: '', target: '/data', readonly: false };

  it('plugs in order: bind, export, device on a free port, guest mount, container mount', async () => {
    const volumes = hotplug();
    const info = await volumes.add({ ...request, source: join(dir, 'src') });
    expect(info).toMatchObject({ containerId: 'c1', target: '/data', tag: 'vol0' });
    expect(calls).toEqual(['export vol0', 'device_add hv0 hp0', 'guest mount vol0', 'container mount /data']);
    expect(await mountsUnder(join(dir, 'run'))).toContain(join(dir, 'run', 'sandboxes', 'ns', 'sb', 'shares', 'vol0'));
    await volumes.remove('c1', '/data');
    expect(calls.slice(4)).toEqual([
      'container umount /data',
      'guest umount vol0 slot 1',
      'device_del hv0',
      'unexport vol0',
    ]);
  });

  it('exports a read-write volume with user.* xattrs only, and the ACLs too with [daemon] posix_acl', async () => {
    await hotplug(true, false).add({ ...request, source: join(dir, 'src') });
    expect(maps.get('vol0')).toBe(USER_XATTRS_ONLY);
    await unmountAll(state);
    await hotplug(true, true).add({ ...request, target: '/acl', source: join(dir, 'src') });
    expect([...maps.values()].at(-1)).toBe(USER_XATTRS_AND_ACLS);
  });

  it('under ACPI hotplug (q35) unmounts in the guest without powering the slot off, and deletes the device at once', async () => {
    const volumes = hotplug(false);
    await volumes.add({ ...request, source: join(dir, 'src') });
    await volumes.remove('c1', '/data');
    expect(calls.slice(4)).toEqual([
      'container umount /data',
      'guest umount vol0 slot 0',
      'device_del hv0 at once',
      'unexport vol0',
    ]);
  });

  it.each<[Step, RegExp, string[]]>([
    ['export', /export it from vfs-virtiofsd: .*export refused/, []],
    ['device', /QMP device_add on hp0: .*no slot/, ['unexport vol0']],
    ['guest', /mount it in the guest: .*tag not found/, ['device_del hv0', 'unexport vol0']],
    [
      'container',
      /mount it in the container: .*mount point already/,
      ['guest umount vol0 slot 1', 'device_del hv0', 'unexport vol0'],
    ],
  ])('a failure at the %s step names it and undoes every step before it', async (step, message, undone) => {
    const volumes = hotplug();
    failAt = step;
    await expect(volumes.add({ ...request, source: join(dir, 'src') })).rejects.toThrow(message);
    const sandboxMounts = (await mountsUnder(join(dir, 'run'))).filter((m) => m.includes('vol0'));
    expect(sandboxMounts).toEqual([]);
    expect(calls.filter((c) => /^(unexport|device_del|guest umount)/.test(c))).toEqual(undone);
    expect(volumes.list('')).toEqual([]);
    // The slot came back: the one slot there is takes the next volume.
    failAt = undefined;
    calls = [];
    await expect(volumes.add({ ...request, source: join(dir, 'src') })).resolves.toMatchObject({ tag: 'vol1' });
  });

  it('refuses a source that is not a directory before taking anything', async () => {
    const volumes = hotplug();
    await expect(volumes.add({ ...request, source: join(dir, 'src', 'f') })).rejects.toThrow(/is not a directory/);
    await expect(volumes.add({ ...request, source: join(dir, 'none') })).rejects.toThrow(/none: ENOENT/);
    expect(calls).toEqual([]);
  });
});
