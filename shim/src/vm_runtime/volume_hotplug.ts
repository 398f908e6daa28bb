// Volumes added to running containers (vfs-runtime volume add), each a real virtio-fs device
// hot-plugged into the VM:
//   bind the host dir into the shared dir → the daemon exports it on a new vhost-user socket →
//   QMP chardev-add + device_add on a free root port → the agent mounts the tag once the guest
//   has probed the device → the agent binds it into the container's mount namespace.
// Removal runs the same steps backwards; a volume a process still uses stays (the agent refuses).
// Every step of an add registers its undo, so a failure at any step leaves nothing half-made and
// names the step and the cause.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { CacheMode, ControlClient, VolumeInfo } from '@vfs/contracts';
import { errorMessage } from '@vfs/contracts';
import { removeUnmountedTree, unmount } from '../host_mounts';
import type { ShimLogger } from '../logger';
import type { SandboxState } from '../sandbox_state';
import { SandboxError } from '../sandbox_error';
import { type GuestRelease, HotplugError, type RootPortPool, rootPortSlot } from '../vm/fs_hotplug';
import type { AgentClient } from './agent_dial';
import type { SandboxLayout } from './sandbox_layout';
import { bindShare, exportShare } from './share_exports';
import { GUEST_SHARES_DIR, writableShareXattrs } from './share_plan';
import type { ControlledVm } from './vm_control';

/** How long the guest may take to probe a new device, and to release one at device_del. */
const PLUG_TIMEOUT_MS = 15_000;

export interface VolumeRequest {
  readonly containerId: string;
  readonly source: string;
  readonly target: string;
  readonly readonly: boolean;
}

interface Volume extends VolumeInfo {
  readonly deviceId: string;
  readonly port: string;
}

export interface VolumeHotplugDeps {
  readonly state: SandboxState;
  readonly layout: SandboxLayout;
  readonly control: ControlClient;
  readonly vm: ControlledVm;
  readonly agent: AgentClient;
  /** The VM's root ports, shared with its hot-plugged pod NICs. */
  readonly ports: RootPortPool;
  readonly cache: CacheMode;
  /** [daemon] posix_acl: a read-write volume passes the ACL xattrs too. */
  readonly posixAcl: boolean;
  readonly requestTimeoutMs: number;
  /** The guest drives the root ports' hotplug (qemu_command.ts nativePcieHotplug). */
  readonly nativePcieHotplug: boolean;
  readonly log: ShimLogger;
}

type Undo = { readonly what: string; readonly run: () => Promise<unknown> };

/** The volumes of a sandbox's running containers. */
export interface Volumes {
  add(request: VolumeRequest): Promise<VolumeInfo>;
  remove(containerId: string, target: string): Promise<void>;
  /** Every volume of a container, when it is removed: busy or not, the container is gone. */
  removeAll(containerId: string): Promise<void>;
  list(containerId: string): readonly VolumeInfo[];
}

export class VolumeHotplug implements Volumes {
  private readonly volumes: Volume[] = [];
  private next = 0;
  /** One add or remove at a time: each takes a port, a socket and a tag. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: VolumeHotplugDeps) {}

  add(request: VolumeRequest): Promise<VolumeInfo> {
    return this.serialized(() => this.plug(request));
  }

  remove(containerId: string, target: string): Promise<void> {
    return this.serialized(() => this.unplug(this.find(containerId, target)));
  }

  removeAll(containerId: string): Promise<void> {
    return this.serialized(async () => {
      for (const volume of this.volumes.filter((v) => v.containerId === containerId)) await this.unplug(volume, false);
    });
  }

  list(containerId: string): readonly VolumeInfo[] {
    return this.volumes
      .filter((v) => containerId === '' || v.containerId === containerId)
      .map(({ containerId: id, source, target, readonly, tag }) => ({
        containerId: id,
        source,
        target,
        readonly,
        tag,
      }));
  }

  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private find(containerId: string, target: string): Volume {
    const volume = this.volumes.find((v) => v.containerId === containerId && v.target === target);
    if (volume === undefined)
      throw new SandboxError('not-found', `container ${containerId} has no volume at ${target}`);
    return volume;
  }

  private checkRequest(request: VolumeRequest): void {
    if (this.deps.ports.size === 0) {
      throw new SandboxError(
        'unsupported',
        'this sandbox cannot hotplug volumes: its machine has no hotplug slots (machine = "microvm", or hotplug_slots = 0)',
      );
    }
    let isDir: boolean;
    try {
      isDir = statSync(request.source).isDirectory();
    } catch (err) {
      throw new SandboxError('bad-request', `volume source ${request.source}: ${errorMessage(err)}`, { cause: err });
    }
    if (!isDir) throw new SandboxError('bad-request', `volume source ${request.source} is not a directory`);
    if (this.volumes.some((v) => v.containerId === request.containerId && v.target === request.target)) {
      throw new SandboxError(
        'bad-request',
        `container ${request.containerId} has a volume at ${request.target} already`,
      );
    }
  }

  private async plug(request: VolumeRequest): Promise<VolumeInfo> {
    this.checkRequest(request);
    const n = this.next++;
    const tag = `vol${n}`;
    const deviceId = `hv${n}`;
    const socketPath = join(this.deps.layout.socketDir, `${deviceId}.sock`);
    const undo: Undo[] = [];
    const step = async <T>(what: string, run: () => Promise<T>, reverse?: Undo): Promise<T> => {
      try {
        const result = await run();
        if (reverse !== undefined) undo.push(reverse);
        return result;
      } catch (err) {
        const failures = await this.rollBack(undo);
        const also = failures.length === 0 ? '' : `; undoing it also failed: ${failures.join('; ')}`;
        const context = `volume ${request.target} of ${request.containerId}`;
        if (err instanceof HotplugError && err.step === what) {
          throw new SandboxError('wrong-state', `${context}: ${what}: ${err.detail}${also}`, { cause: err });
        }
        throw SandboxError.wrap(err, `${context}: ${what}${also}`);
      }
    };
    const { state, layout, control, vm, agent, requestTimeoutMs } = this.deps;
    const port: string = await step('take a hotplug slot', async () => this.deps.ports.take(tag), {
      what: 'release the slot',
      run: async (): Promise<void> => this.deps.ports.release(port),
    });
    const bind = { source: request.source, target: tag, wrapsFile: false, recursive: true, readonly: request.readonly };
    await step('bind the source into the shared dir', () => bindShare(state, layout, request.containerId, bind), {
      what: 'unmount the source',
      run: () => this.unbind(tag),
    });
    const share = {
      tag,
      readonly: request.readonly,
      cache: this.deps.cache,
      xattr: true,
      ...(request.readonly ? {} : { xattrmap: writableShareXattrs(this.deps.posixAcl) }),
    };
    await step('export it from vfs-virtiofsd', () => exportShare(control, share, socketPath), {
      what: 'remove the export',
      run: () => control.remove(tag),
    });
    let mountedInGuest = false;
    await step(`QMP device_add on ${port}`, () => vm.addFsDevice({ id: deviceId, socketPath, tag, port }), {
      what: 'remove the device',
      run: () => this.removeDevice({ tag, deviceId, port }, mountedInGuest),
    });
    const mountPoint = `${GUEST_SHARES_DIR}/${tag}`;
    await step('mount it in the guest', () =>
      agent.mountShare(
        { share: { tag, mountPoint, readonly: request.readonly, options: [] }, waitMs: PLUG_TIMEOUT_MS },
        { timeoutMs: PLUG_TIMEOUT_MS + requestTimeoutMs },
      ),
    );
    mountedInGuest = true;
    await step('mount it in the container', () =>
      agent.addContainerMount(
        {
          containerId: request.containerId,
          mount: { source: { tag, path: '' }, destination: request.target, readonly: request.readonly, options: [] },
        },
        { timeoutMs: requestTimeoutMs },
      ),
    );
    const volume: Volume = { ...request, tag, deviceId, port };
    this.volumes.push(volume);
    this.deps.log.info({ container: request.containerId, target: request.target, tag, port }, 'volume hot-plugged');
    return {
      containerId: request.containerId,
      source: request.source,
      target: request.target,
      readonly: request.readonly,
      tag,
    };
  }

  /** `fromContainer`: take it out of the container first (refused while busy); false when the container is gone. */
  private async unplug(volume: Volume, fromContainer = true): Promise<void> {
    const { agent, control, requestTimeoutMs } = this.deps;
    const timeout = { timeoutMs: requestTimeoutMs };
    if (fromContainer) {
      try {
        await agent.removeContainerMount({ containerId: volume.containerId, destination: volume.target }, timeout);
      } catch (err) {
        throw SandboxError.wrap(err, `volume ${volume.target} of ${volume.containerId}`);
      }
    }
    this.volumes.splice(this.volumes.indexOf(volume), 1);
    const failures = await this.rollBack([
      { what: 'release the slot', run: async () => this.deps.ports.release(volume.port) },
      { what: 'unmount the source', run: () => this.unbind(volume.tag) },
      { what: 'remove the export', run: () => control.remove(volume.tag) },
      { what: 'remove the device', run: () => this.removeDevice(volume, true) },
    ]);
    if (failures.length > 0) {
      throw new SandboxError(
        'host-failure',
        `volume ${volume.target} of ${volume.containerId} removed, but: ${failures.join('; ')}`,
      );
    }
    this.deps.log.info({ container: volume.containerId, target: volume.target, tag: volume.tag }, 'volume removed');
  }

  /**
   * device_del; a device the guest mounted is unmounted there first, and under native PCIe hotplug
   * its slot powered off, which releases it at once instead of after pciehp's five-second delay.
   */
  private removeDevice(
    device: { tag: string; deviceId: string; port: string },
    mountedInGuest: boolean,
  ): Promise<void> {
    const { agent, vm, requestTimeoutMs, nativePcieHotplug } = this.deps;
    const pciSlot = nativePcieHotplug ? rootPortSlot(device.port) : 0;
    const release: GuestRelease = {
      run: () => agent.unmountShare({ tag: device.tag, lazy: true, pciSlot }, { timeoutMs: requestTimeoutMs }),
      freesDevice: nativePcieHotplug,
    };
    return vm.removeFsDevice(device.deviceId, PLUG_TIMEOUT_MS, mountedInGuest ? release : undefined);
  }

  private async unbind(tag: string): Promise<void> {
    const { state, layout } = this.deps;
    await unmount(state, join(layout.sharesDir, tag));
    await removeUnmountedTree(join(layout.sharesDir, tag));
    await removeUnmountedTree(join(layout.stagingDir, tag));
  }

  /** Runs undo steps newest first; returns what failed (each is tried). */
  private async rollBack(undo: Undo[]): Promise<string[]> {
    const failures: string[] = [];
    for (const step of undo.splice(0).reverse()) {
      try {
        await step.run();
      } catch (err) {
        this.deps.log.error({ step: step.what, err: errorMessage(err) }, 'volume undo step failed');
        failures.push(`${step.what}: ${errorMessage(err)}`);
      }
    }
    return failures;
  }
}
