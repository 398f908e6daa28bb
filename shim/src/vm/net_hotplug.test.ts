// The QMP side of virtio-net hotplug against the fake QMP server (beside the real-QEMU test in
// pod_network/pod_network_hotplug.test.ts): the order of the commands, where the caller's
// `connect` runs, and that a refused step leaves no netdev behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hotAddNet, hotRemoveNet } from './net_hotplug';
import { QmpClient } from './qmp';
import { type FakeHandler, FakeQmpServer } from './qmp_fake_server';

const DEVICE = { id: 'vt0a1b2c3d4e5f', ifname: 'vt0a1b2c3d4e5f', mac: '0a:58:0a:f4:00:05', vhost: false, port: 'hp1' };
const ok: FakeHandler = () => ({ return: {} });
const refuse =
  (desc: string): FakeHandler =>
  () => ({ error: { class: 'GenericError', desc } });

describe('virtio-net hotplug over QMP', () => {
  let dir: string;
  let server: FakeQmpServer;
  let qmp: QmpClient;
  /** QMP commands and the caller's connect step, in the order they happened. */
  let order: string[];

  const start = async (handlers: Readonly<Record<string, FakeHandler>>): Promise<void> => {
    const logged = Object.fromEntries(
      Object.entries(handlers).map(([name, handler]): [string, FakeHandler] => [
        name,
        (args) => {
          order.push(name);
          return handler(args);
        },
      ]),
    );
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'), logged);
    qmp = await QmpClient.connect(server.path, { timeoutMs: 2000 });
  };
  const connect = async (): Promise<void> => void order.push('connect');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-nethp-'));
    order = [];
  });
  afterEach(async () => {
    qmp.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a tap netdev, lets the caller connect the tap, then adds virtio-net-pci with the MAC on the root port', async () => {
    await start({ netdev_add: ok, device_add: ok });
    await hotAddNet(qmp, DEVICE, connect);
    expect(order).toEqual(['netdev_add', 'connect', 'device_add']);
    expect(server.received.slice(1)).toEqual([
      {
        execute: 'netdev_add',
        arguments: {
          type: 'tap',
          id: 'vt0a1b2c3d4e5f',
          ifname: 'vt0a1b2c3d4e5f',
          script: 'no',
          downscript: 'no',
          vhost: false,
        },
      },
      {
        execute: 'device_add',
        arguments: {
          driver: 'virtio-net-pci',
          id: 'vt0a1b2c3d4e5f-nic',
          netdev: 'vt0a1b2c3d4e5f',
          mac: '0a:58:0a:f4:00:05',
          bus: 'hp1',
        },
      },
    ]);
  });

  it('stops at a refused netdev_add, naming it and QEMU’s words, without connecting anything', async () => {
    await start({ netdev_add: refuse("Device 'tap' could not be initialized") });
    await expect(hotAddNet(qmp, DEVICE, connect)).rejects.toThrow(
      "QMP netdev_add vt0a1b2c3d4e5f (tap vt0a1b2c3d4e5f): GenericError: Device 'tap' could not be initialized",
    );
    expect(order).toEqual(['netdev_add']);
  });

  it('deletes the netdev (and so its tap) when connecting the tap fails, and names the connect step', async () => {
    await start({ netdev_add: ok, netdev_del: ok });
    const failing = async (): Promise<void> => {
      throw new Error('`tc qdisc add dev eth0 ingress` in /var/run/netns/cni-1: Error: Exclusivity flag on');
    };
    await expect(hotAddNet(qmp, DEVICE, failing)).rejects.toThrow(
      'connect tap vt0a1b2c3d4e5f to the pod: `tc qdisc add dev eth0 ingress` in /var/run/netns/cni-1: Error: Exclusivity flag on',
    );
    expect(order).toEqual(['netdev_add', 'netdev_del']);
  });

  it('deletes the netdev when QEMU refuses the NIC, and names the device_add step and QEMU’s words', async () => {
    await start({ netdev_add: ok, device_add: refuse("Bus 'hp1' not found"), netdev_del: ok });
    await expect(hotAddNet(qmp, DEVICE, connect)).rejects.toThrow(
      "QMP device_add vt0a1b2c3d4e5f-nic on hp1: GenericError: Bus 'hp1' not found",
    );
    expect(order).toEqual(['netdev_add', 'connect', 'device_add', 'netdev_del']);
  });

  it('tells when the netdev could not be deleted either', async () => {
    await start({ netdev_add: ok, device_add: refuse('no'), netdev_del: refuse('busy') });
    await expect(hotAddNet(qmp, DEVICE, connect)).rejects.toThrow(
      /device_add .*: GenericError: no; netdev_del vt0a1b2c3d4e5f also failed: GenericError: busy/,
    );
  });

  it('removes the NIC once the DEVICE_DELETED that names it arrives, then deletes the netdev', async () => {
    await start({
      device_del: () => {
        setTimeout(() => server.emitEvent('DEVICE_DELETED', { path: '/machine/peripheral/x/virtio-backend' }), 10);
        setTimeout(() => server.emitEvent('DEVICE_DELETED', { device: 'vt0a1b2c3d4e5f-nic' }), 30);
        return { return: {} };
      },
      netdev_del: ok,
    });
    await hotRemoveNet(qmp, DEVICE.id, 2000);
    expect(server.received.slice(1)).toEqual([
      { execute: 'device_del', arguments: { id: 'vt0a1b2c3d4e5f-nic' } },
      { execute: 'netdev_del', arguments: { id: 'vt0a1b2c3d4e5f' } },
    ]);
  });

  it('deletes the netdev even when the guest never releases the NIC, then names the wait that failed', async () => {
    await start({ device_del: ok, netdev_del: ok });
    await expect(hotRemoveNet(qmp, DEVICE.id, 100)).rejects.toThrow('wait for the guest to release vt0a1b2c3d4e5f-nic');
    expect(order).toEqual(['device_del', 'netdev_del']);
  });

  it('names both failures when device_del and netdev_del are refused', async () => {
    await start({ device_del: refuse("Device 'vt0a1b2c3d4e5f-nic' not found"), netdev_del: refuse('gone') });
    await expect(hotRemoveNet(qmp, DEVICE.id, 100)).rejects.toThrow(
      "QMP device_del vt0a1b2c3d4e5f-nic: GenericError: Device 'vt0a1b2c3d4e5f-nic' not found; QMP netdev_del vt0a1b2c3d4e5f: GenericError: gone",
    );
  });
});
