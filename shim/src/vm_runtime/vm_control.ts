// The sandbox's hold on its QEMU: the process (whose exit stays the source of truth) and one QMP
// connection, opened right after the spawn and kept until teardown. Teardown asks QEMU to `quit`
// over QMP and SIGKILLs the PID if it is still there after a grace period, or, for a sandbox
// being destroyed, SIGKILLs it at once (`kill`). QMP also tells of QEMU's end sooner than the
// exit can: a SHUTDOWN event (with -no-reboot QEMU exits right after one) or the socket closing.

import { errorMessage } from '@vfs/contracts';
import type { ShimLogger } from '../logger';
import { within } from '../within';
import { type FsHotplugDevice, type GuestRelease, hotAddFs, hotRemoveFs } from '../vm/fs_hotplug';
import { hotAddNet, hotRemoveNet, type NetHotplugDevice } from '../vm/net_hotplug';
import { QmpClient, type QmpStatus } from '../vm/qmp';
import { describeExit, type QemuExit } from '../vm/qemu_exit';
import { killQemuByPid, type RunningQemu } from '../vm/qemu_process';
import { loadVmState, saveVmState } from '../vm/vm_snapshot';

/** QEMU listens on QMP early in its start, well before the guest runs; a loaded host is slow. */
const QMP_CONNECT_TIMEOUT_MS = 10_000;
/** A QEMU whose main loop is stuck never answers: diagnostics must not wait for it. */
const STATUS_TIMEOUT_MS = 1000;

export interface ControlledVm {
  readonly pid: number;
  readonly exited: Promise<QemuExit>;
  /** Resolves with why QEMU went away, or is going: QMP's word or the exit, whichever comes first. */
  readonly gone: Promise<string>;
  /** query-status (prelaunch, running, paused, shutdown, internal-error, …); rejects after a short wait. */
  queryStatus(): Promise<QmpStatus>;
  /** Hot-adds a vhost-user-fs-pci device on a free root port (fs_hotplug.ts). */
  addFsDevice(device: FsHotplugDevice): Promise<void>;
  /** Hot-removes one: resolves once the guest released it and its chardev is gone (fs_hotplug.ts hotRemoveFs). */
  removeFsDevice(id: string, timeoutMs: number, guestRelease?: GuestRelease): Promise<void>;
  /** Hot-adds a tap netdev, runs `connect` (the tap exists then), adds its virtio-net-pci NIC (net_hotplug.ts). */
  addNetDevice(device: NetHotplugDevice, connect: () => Promise<unknown>): Promise<void>;
  /**
   * Hot-removes a NIC and its netdev (net_hotplug.ts hotRemoveNet); once QEMU is gone there is
   * nothing to remove (its end took the NIC and the tap) and this resolves.
   */
  removeNetDevice(id: string, timeoutMs: number): Promise<void>;
  /** QMP `quit`, SIGKILL by PID after graceMs; resolves with the exit. Idempotent. */
  stop(graceMs: number): Promise<QemuExit>;
  /**
   * SIGKILL at once, for a VM whose guest holds nothing anyone keeps (a sandbox being destroyed):
   * no QMP round trip nor QEMU's own clean-up on the way out. A later `stop` resolves with this exit.
   */
  kill(): Promise<QemuExit>;
  /** Pauses the VM and writes its device state to a file (a VM template, vm_snapshot.ts). */
  saveState(statePath: string, timeoutMs: number): Promise<void>;
  /** Resumes a QEMU started `-incoming defer` from a saved device state. */
  loadState(statePath: string, timeoutMs: number): Promise<void>;
  /** Lets go of QEMU without stopping it (the warm pool hands it over): closes QMP; `gone` then resolves. */
  release(): void;
}

/** Connects QMP to a just-spawned QEMU; fails with QEMU's own words when it exits first. */
export async function controlVm(qemu: RunningQemu, qmpSocket: string, log: ShimLogger): Promise<ControlledVm> {
  const abort = new AbortController();
  const exitReason = qemu.exited.then(describeExit);
  void exitReason.then((why) => abort.abort(why));
  const qmp = await QmpClient.connect(qmpSocket, { timeoutMs: QMP_CONNECT_TIMEOUT_MS, signal: abort.signal });
  log.debug({ qemuPid: qemu.pid, qemu: qmp.greeting.version.qemu }, 'QMP connected');
  let stopping: Promise<QemuExit> | undefined;
  return {
    pid: qemu.pid,
    exited: qemu.exited,
    gone: Promise.race([exitReason, qmpEnd(qmp)]),
    queryStatus: () =>
      within(qmp.queryStatus(), STATUS_TIMEOUT_MS, `QMP query-status: no answer within ${STATUS_TIMEOUT_MS} ms`),
    addFsDevice: (device) => hotAddFs(qmp, device),
    removeFsDevice: (id, timeoutMs, guestRelease) => hotRemoveFs(qmp, id, timeoutMs, guestRelease),
    addNetDevice: (device, connect) => hotAddNet(qmp, device, connect),
    removeNetDevice: (id, timeoutMs) => removeNetUnlessGone(qmp, id, timeoutMs),
    stop: (graceMs) => (stopping ??= stopVm(qemu, qmp, graceMs, log)),
    kill: () => (stopping ??= killVm(qemu, qmp, log)),
    saveState: (statePath, timeoutMs) => saveVmState(qmp, statePath, timeoutMs),
    loadState: (statePath, timeoutMs) => loadVmState(qmp, statePath, timeoutMs),
    release: () => qmp.close(),
  };
}

async function removeNetUnlessGone(qmp: QmpClient, id: string, timeoutMs: number): Promise<void> {
  if (qmp.isClosed) return;
  try {
    await hotRemoveNet(qmp, id, timeoutMs);
  } catch (err) {
    if (!qmp.isClosed) throw err;
  }
}

function qmpEnd(qmp: QmpClient): Promise<string> {
  return new Promise((resolve) => {
    qmp.onEvent((event) => {
      if (event.event === 'SHUTDOWN')
        resolve(`QEMU is shutting down (${String(event.data.reason ?? 'no reason given')})`);
    });
    void qmp.closed.then((why) => resolve(`QEMU is gone: ${why}`));
  });
}

async function killVm(qemu: RunningQemu, qmp: QmpClient, log: ShimLogger): Promise<QemuExit> {
  qemu.kill();
  try {
    const exit = await qemu.exited;
    log.debug({ qemuPid: qemu.pid, exit: describeExit(exit) }, 'QEMU killed');
    return exit;
  } finally {
    qmp.close();
  }
}

async function stopVm(qemu: RunningQemu, qmp: QmpClient, graceMs: number, log: ShimLogger): Promise<QemuExit> {
  const kill = setTimeout(() => {
    log.warn({ qemuPid: qemu.pid, graceMs }, 'QEMU did not quit in time: SIGKILL');
    killQemuByPid(qemu.pid, 'SIGKILL');
  }, graceMs);
  try {
    await qmp.quit().catch((err: unknown) => {
      log.warn({ qemuPid: qemu.pid, err: errorMessage(err) }, 'QMP quit refused: SIGKILL');
      killQemuByPid(qemu.pid, 'SIGKILL');
    });
    const exit = await qemu.exited;
    log.debug({ qemuPid: qemu.pid, exit: describeExit(exit) }, 'QEMU stopped');
    return exit;
  } finally {
    clearTimeout(kill);
    qmp.close();
  }
}
