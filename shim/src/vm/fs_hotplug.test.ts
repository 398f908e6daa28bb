// The QMP side of virtio-fs hotplug against the fake QMP server (fault injection beside the real
// e2e/volumes.test.ts): the order of the commands, and that a refused step leaves nothing behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HotplugError, hotAddFs, hotRemoveFs, RootPortPool } from './fs_hotplug';
import { QmpClient } from './qmp';
import { type FakeHandler, FakeQmpServer } from './qmp_fake_server';

const DEVICE = { id: 'hv0', socketPath: '/run/s/hv0.sock', tag: 'vol0', port: 'hp1' };
const ok: FakeHandler = () => ({ return: {} });

describe('virtio-fs hotplug over QMP', () => {
  let dir: string;
  let server: FakeQmpServer;
  let qmp: QmpClient;

  const start = async (handlers: Readonly<Record<string, FakeHandler>>): Promise<void> => {
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'), handlers);
    qmp = await QmpClient.connect(server.path, { timeoutMs: 2000 });
  };
  const commands = (): string[] => server.received.map((r) => r.execute).filter((c) => c !== 'qmp_capabilities');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-hotplug-'));
  });
  afterEach(async () => {
    qmp.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects a socket chardev to the daemon, then adds vhost-user-fs-pci on the given root port', async () => {
    await start({ 'chardev-add': ok, device_add: ok });
    await hotAddFs(qmp, DEVICE);
    expect(server.received.slice(1)).toEqual([
      {
        execute: 'chardev-add',
        arguments: {
          id: 'hv0-chr',
          backend: {
            type: 'socket',
            data: { addr: { type: 'unix', data: { path: '/run/s/hv0.sock' } }, server: false },
          },
        },
      },
      {
        execute: 'device_add',
        arguments: { driver: 'vhost-user-fs-pci', id: 'hv0', bus: 'hp1', chardev: 'hv0-chr', tag: 'vol0' },
      },
    ]);
  });

  it('removes the chardev again when QEMU refuses the device, and names the step and QEMU’s words', async () => {
    await start({
      'chardev-add': ok,
      device_add: () => ({ error: { class: 'GenericError', desc: "Bus 'hp1' does not support hotplugging" } }),
      'chardev-remove': ok,
    });
    await expect(hotAddFs(qmp, DEVICE)).rejects.toThrow(
      "QMP device_add hv0 on hp1: GenericError: Bus 'hp1' does not support hotplugging",
    );
    expect(commands()).toEqual(['chardev-add', 'device_add', 'chardev-remove']);
  });

  it('tells when the chardev could not be removed either', async () => {
    await start({
      'chardev-add': ok,
      device_add: () => ({ error: { class: 'GenericError', desc: 'no' } }),
      'chardev-remove': () => ({ error: { class: 'GenericError', desc: 'busy' } }),
    });
    await expect(hotAddFs(qmp, DEVICE)).rejects.toThrow(/chardev-remove hv0-chr also failed: GenericError: busy/);
  });

  it('removes a device once the guest released it (the DEVICE_DELETED that names it), then its chardev', async () => {
    await start({
      device_del: () => {
        // The backend's event first (no device), then the device's own.
        setTimeout(() => server.emitEvent('DEVICE_DELETED', { path: '/machine/peripheral/hv0/virtio-backend' }), 10);
        setTimeout(() => server.emitEvent('DEVICE_DELETED', { device: 'hv0', path: '/machine/peripheral/hv0' }), 30);
        return { return: {} };
      },
      'chardev-remove': ok,
    });
    await hotRemoveFs(qmp, 'hv0', 2000);
    expect(commands()).toEqual(['device_del', 'chardev-remove']);
  });

  it('sends no device_del when the guest released the device itself (its slot powered off)', async () => {
    await start({ device_del: ok, 'chardev-remove': ok });
    const release = async (): Promise<void> => {
      setTimeout(() => server.emitEvent('DEVICE_DELETED', { device: 'hv0', path: '/machine/peripheral/hv0' }), 20);
    };
    await hotRemoveFs(qmp, 'hv0', 2000, { run: release, freesDevice: true });
    expect(commands()).toEqual(['chardev-remove']);
  });

  it('sends device_del right after a guest release that does not free the device (ACPI hotplug)', async () => {
    const released: string[] = [];
    await start({
      device_del: () => {
        setTimeout(() => server.emitEvent('DEVICE_DELETED', { device: 'hv0', path: '/machine/peripheral/hv0' }), 10);
        return { return: {} };
      },
      'chardev-remove': ok,
    });
    // The 2 s bound on DEVICE_DELETED is shorter than the 3 s a freeing release is given: waiting
    // for a release that cannot come would miss the event's deadline.
    await hotRemoveFs(qmp, 'hv0', 2000, { run: async () => void released.push('unmounted'), freesDevice: false });
    expect(released).toEqual(['unmounted']);
    expect(commands()).toEqual(['device_del', 'chardev-remove']);
  });

  it('gives up on a guest that never releases the device, keeping its chardev', async () => {
    await start({ device_del: ok, 'chardev-remove': ok });
    await expect(hotRemoveFs(qmp, 'hv0', 100)).rejects.toThrow(
      'wait for the guest to release hv0: QMP: no DEVICE_DELETED event within 100 ms',
    );
    expect(commands()).toEqual(['device_del']);
  });
});

describe('the root port pool', () => {
  it('hands out free ports and names the limit when none is left', () => {
    const pool = new RootPortPool(2);
    expect([pool.take('a'), pool.take('b')]).toEqual(['hp0', 'hp1']);
    expect(() => pool.take('c')).toThrow(HotplugError);
    expect(() => pool.take('c')).toThrow('all 2 slots are in use ([hypervisor] hotplug_slots = 2)');
    pool.release('hp0');
    expect(pool.take('c')).toBe('hp0');
    expect(pool.free).toBe(0);
  });
});
