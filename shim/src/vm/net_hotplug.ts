/**
 * virtio-net hotplug over QMP into a running VM (a pooled one), on a free pcie-root-port:
 * - add: `netdev_add` tap (QEMU makes the tap, in its own netns, and holds its only fd), then
 *   `connect` (the caller moves the tap to the pod and wires it), then `device_add virtio-net-pci`;
 *   a failure after netdev_add deletes the netdev again, which takes the tap along;
 * - remove: `device_del`, the DEVICE_DELETED event that names the NIC, then `netdev_del`, which is
 *   sent even when the guest did not release the NIC, so no tap outlives the removal.
 * Each step's failure names the step and QEMU's words (fs_hotplug.ts's HotplugError).
 */
import { HotplugError, hotplugStep, qmpWords } from './fs_hotplug';
import type { QmpClient } from './qmp';

export interface NetHotplugDevice {
  /** QEMU netdev id; the NIC is `<id>-nic`. */
  readonly id: string;
  /** The tap QEMU makes: unique in QEMU's netns, ≤ 15 bytes. */
  readonly ifname: string;
  readonly mac: string;
  /** In-kernel vhost-net, only when /dev/vhost-net works. */
  readonly vhost: boolean;
  /** The pcie-root-port the NIC goes on. */
  readonly port: string;
}

export function nicId(id: string): string {
  return `${id}-nic`;
}

export async function hotAddNet(
  qmp: QmpClient,
  device: NetHotplugDevice,
  connect: () => Promise<unknown>,
): Promise<void> {
  const { id, ifname, mac, vhost, port } = device;
  await hotplugStep(`QMP netdev_add ${id} (tap ${ifname})`, () =>
    qmp.execute('netdev_add', { type: 'tap', id, ifname, script: 'no', downscript: 'no', vhost }),
  );
  try {
    await hotplugStep(`connect tap ${ifname} to the pod`, connect);
    await hotplugStep(`QMP device_add ${nicId(id)} on ${port}`, () =>
      qmp.execute('device_add', { driver: 'virtio-net-pci', id: nicId(id), netdev: id, mac, bus: port }),
    );
  } catch (err) {
    // Nothing half-made stays in QEMU: the netdev goes, and its tap with it.
    const undo = await qmp.execute('netdev_del', { id }).then(
      () => '',
      (undoErr: unknown) => `; netdev_del ${id} also failed: ${qmpWords(undoErr)}`,
    );
    if (undo === '' || !(err instanceof HotplugError)) throw err;
    throw new HotplugError(err.step, `${err.detail}${undo}`, { cause: err });
  }
}

export async function hotRemoveNet(qmp: QmpClient, id: string, timeoutMs: number): Promise<void> {
  const nic = nicId(id);
  // Listen before asking: the event may arrive before device_del's answer.
  const deleted = qmp.waitForEvent('DEVICE_DELETED', (event) => event.data.device === nic, timeoutMs);
  deleted.catch(() => undefined);
  let unplugged: HotplugError | undefined;
  try {
    await hotplugStep(`QMP device_del ${nic}`, () => qmp.execute('device_del', { id: nic }));
    await hotplugStep(`wait for the guest to release ${nic}`, () => deleted);
  } catch (err) {
    unplugged = err as HotplugError;
  }
  try {
    await hotplugStep(`QMP netdev_del ${id}`, () => qmp.execute('netdev_del', { id }));
  } catch (err) {
    if (unplugged === undefined) throw err;
    throw new HotplugError(unplugged.step, `${unplugged.detail}; ${(err as Error).message}`, { cause: err });
  }
  if (unplugged !== undefined) throw unplugged;
}
