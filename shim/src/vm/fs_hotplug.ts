/**
 * virtio-fs device hotplug over QMP, on a pool of empty pcie-root-ports created at boot (`hp0`…):
 * - add: `chardev-add` (a unix socket client to the daemon's vhost-user socket), then
 *   `device_add vhost-user-fs-pci` on a free port; a refused device_add removes the chardev again;
 * - remove: `device_del`, then the DEVICE_DELETED event that names the device (the guest has
 *   released it; a first event without `device` is for the virtio backend), then `chardev-remove`.
 * Each step's failure names the step and QEMU's words.
 * Hot-plugged volumes have no DAX window (no cache-size), even with [daemon] dax_window_mib > 0:
 * only the boot shares get one (share_plan.ts). A window is a 64-bit BAR of hundreds of MiB that a
 * root port would need room set aside for; none is, and that path is not tested.
 */
import { errorMessage } from '@vfs/contracts';
import { type QmpClient, QmpError } from './qmp';

export interface FsHotplugDevice {
  /** QEMU device id; the chardev is `<id>-chr`. */
  readonly id: string;
  readonly socketPath: string;
  readonly tag: string;
  /** The pcie-root-port the device goes on. */
  readonly port: string;
}

export class HotplugError extends Error {
  constructor(
    readonly step: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${step}: ${detail}`, options);
    this.name = 'HotplugError';
  }
}

/** The root port ids QEMU is started with (qemu_command.ts creates them, slot = index + 1). */
export function rootPortId(index: number): string {
  return `hp${index}`;
}

/** The PCIe slot number of a root port, as the guest names it (/sys/bus/pci/slots/<n>). */
export function rootPortSlot(port: string): number {
  const index = /^hp(\d+)$/.exec(port)?.[1];
  if (index === undefined) throw new Error(`not a hotplug root port: ${port}`);
  return Number(index) + 1;
}

/** How long a guest's own release (its slot powered off) may take before device_del is sent too. */
const GUEST_RELEASE_MS = 3000;

/** The free root ports of one VM, shared by its volumes and pod NICs: a device takes one for its life. */
export class RootPortPool {
  private readonly used = new Map<string, string>();

  constructor(readonly size: number) {}

  /** A free port for `owner`; throws naming the limit when none is left. */
  take(owner: string): string {
    for (let i = 0; i < this.size; i++) {
      const port = rootPortId(i);
      if (!this.used.has(port)) {
        this.used.set(port, owner);
        return port;
      }
    }
    throw new HotplugError(
      'take a hotplug slot',
      `all ${this.size} slots are in use ([hypervisor] hotplug_slots = ${this.size}): remove a volume or raise the limit`,
    );
  }

  release(port: string): void {
    this.used.delete(port);
  }

  get free(): number {
    return this.size - this.used.size;
  }
}

/** QEMU's own words for a refused command, else the error's message. */
export function qmpWords(err: unknown): string {
  return err instanceof QmpError ? `${err.errorClass}: ${err.desc}` : errorMessage(err);
}

/** Runs one hotplug step; a failure becomes a HotplugError naming it. */
export async function hotplugStep<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new HotplugError(what, qmpWords(err), { cause: err });
  }
}

export async function hotAddFs(qmp: QmpClient, device: FsHotplugDevice): Promise<void> {
  const chardev = `${device.id}-chr`;
  await hotplugStep(`QMP chardev-add ${chardev}`, () =>
    qmp.execute('chardev-add', {
      id: chardev,
      backend: { type: 'socket', data: { addr: { type: 'unix', data: { path: device.socketPath } }, server: false } },
    }),
  );
  try {
    await hotplugStep(`QMP device_add ${device.id} on ${device.port}`, () =>
      qmp.execute('device_add', {
        driver: 'vhost-user-fs-pci',
        id: device.id,
        bus: device.port,
        chardev,
        tag: device.tag,
      }),
    );
  } catch (err) {
    // Nothing half-made stays behind: the chardev goes too, and a failure to remove it is told.
    const undo = await qmp.execute('chardev-remove', { id: chardev }).then(
      () => '',
      (undoErr: unknown) => `; chardev-remove ${chardev} also failed: ${qmpWords(undoErr)}`,
    );
    if (undo === '' || !(err instanceof HotplugError)) throw err;
    throw new HotplugError(err.step, `${err.detail}${undo}`, { cause: err });
  }
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([
    promise.then(
      () => true,
      () => false,
    ),
    late,
  ]).finally(() => clearTimeout(timer));
}

/**
 * The guest's part of a removal: `run` unmounts the share; where the guest drives PCIe hotplug it
 * also powers the slot off, which makes QEMU delete the device at once (`freesDevice`): device_del
 * alone would wait out pciehp's five-second attention-button delay. Under ACPI hotplug (q35)
 * device_del ejects at once, so it follows the unmount without waiting.
 */
export interface GuestRelease {
  readonly run: () => Promise<unknown>;
  readonly freesDevice: boolean;
}

/** device_del is sent only if a guest release that frees the device has not within a few seconds. */
export async function hotRemoveFs(
  qmp: QmpClient,
  id: string,
  timeoutMs: number,
  guestRelease?: GuestRelease,
): Promise<void> {
  // Listen before asking: the event may arrive before device_del's answer.
  const deleted = qmp.waitForEvent('DEVICE_DELETED', (event) => event.data.device === id, timeoutMs);
  deleted.catch(() => undefined);
  if (guestRelease !== undefined) await hotplugStep(`release ${id} in the guest`, guestRelease.run);
  if (guestRelease?.freesDevice !== true || !(await settlesWithin(deleted, GUEST_RELEASE_MS))) {
    await hotplugStep(`QMP device_del ${id}`, () => qmp.execute('device_del', { id }));
  }
  await hotplugStep(`wait for the guest to release ${id}`, () => deleted);
  await hotplugStep(`QMP chardev-remove ${id}-chr`, () => qmp.execute('chardev-remove', { id: `${id}-chr` }));
}
