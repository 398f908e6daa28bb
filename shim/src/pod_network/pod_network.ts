// The pod's network for its VM: when the sandbox's spec names a network namespace (CRI's pod
// netns, Docker's container netns), each interface CNI made there gets a tap mirrored to it
// (tap_mirror.ts) and becomes one virtio-net NIC of the VM with the interface's MAC; the agent
// gives the guest NIC the interface's addresses, MTU and routes. Set-up is all or nothing, and
// remove() takes away only what set-up made, so CNI DEL finds the netns as CNI left it.
// Two ways in: setUpPodNetwork before QEMU starts (the shim makes the taps; QEMU runs in the netns
// and opens them), and hotplugPodNetwork into a running VM (a pooled one: QEMU makes each tap in
// its own netns over QMP, the tap moves into the pod netns, and the NIC is hot-plugged).

import { accessSync, constants } from 'node:fs';
import { errorMessage } from '@vfs/contracts';
import type { ShimLogger } from '../logger';
import type { ShimSpec } from '../oci_spec';
import { SandboxError } from '../sandbox_error';
import type { RootPortPool } from '../vm/fs_hotplug';
import { type NetHotplugDevice, nicId } from '../vm/net_hotplug';
import { parseInterfaces, parseRoutes, type PodInterface, type PodRoute } from './netns_interfaces';
import { libnetworkHook, type OciHook } from './docker_netns';
import { checkNetns, runInNetns } from './netns_exec';
import { connectSteps, hotTapName, type MirrorStep, mirrorSteps, tapName } from './tap_mirror';

const VHOST_NET = '/dev/vhost-net';

export interface PodNic {
  /** QEMU's netdev/device id. */
  readonly id: string;
  readonly tap: string;
  readonly mac: string;
}

export interface PodNetwork {
  readonly netnsPath: string;
  readonly interfaces: readonly PodInterface[];
  readonly routes: readonly PodRoute[];
  readonly nics: readonly PodNic[];
  /** Whether QEMU may use in-kernel vhost-net for the NICs. */
  readonly vhost: boolean;
  /** Removes the taps and filters; idempotent. */
  remove(): Promise<void>;
}

/** The netns path of a `network` namespace entry; none when the spec makes or shares none by path. */
export function podNetnsPath(spec: ShimSpec): string | undefined {
  return spec.linux?.namespaces?.find((ns) => ns.type === 'network')?.path;
}

/** Where a sandbox's network is: a netns the spec names (CRI), or one dockerd fills through its hook. */
export type NetworkSource =
  | { readonly kind: 'netns'; readonly path: string }
  | { readonly kind: 'docker'; readonly hook: OciHook; readonly containerId: string; readonly bundle: string };

export function networkSource(spec: ShimSpec, containerId: string, bundle: string): NetworkSource | undefined {
  const path = podNetnsPath(spec);
  if (path !== undefined) return { kind: 'netns', path };
  const hook = libnetworkHook(spec);
  return hook === undefined ? undefined : { kind: 'docker', hook, containerId, bundle };
}

function vhostNetUsable(): boolean {
  try {
    accessSync(VHOST_NET, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function readNetns(netnsPath: string): Promise<{ interfaces: PodInterface[]; routes: PodRoute[] }> {
  const interfaces = parseInterfaces(await runInNetns(netnsPath, ['ip', '-j', '-d', 'addr', 'show']));
  const devices = new Set(interfaces.map((nic) => nic.name));
  const routes = [
    ...parseRoutes(await runInNetns(netnsPath, ['ip', '-j', 'route', 'show', 'table', 'main']), false, devices),
    ...parseRoutes(await runInNetns(netnsPath, ['ip', '-j', '-6', 'route', 'show', 'table', 'main']), true, devices),
  ];
  return { interfaces, routes };
}

/** One thing set-up made, and how to take it away. */
interface Undo {
  readonly what: string;
  readonly run: () => Promise<unknown>;
}

/** Runs undo steps newest first, each tried; returns what failed. */
async function rollBack(undo: Undo[], log: ShimLogger): Promise<string[]> {
  const failures: string[] = [];
  for (const step of undo.splice(0).reverse()) {
    try {
      await step.run();
    } catch (err) {
      log.warn({ step: step.what, err: errorMessage(err) }, 'pod network teardown step failed');
      failures.push(`${step.what}: ${errorMessage(err)}`);
    }
  }
  return failures;
}

/** Runs tap_mirror.ts steps in the netns, registering each one's undo as it succeeds. */
async function runMirrorSteps(netnsPath: string, steps: readonly MirrorStep[], undo: Undo[]): Promise<void> {
  for (const step of steps) {
    await runInNetns(netnsPath, step.argv);
    const reverse = step.undo;
    if (reverse !== undefined) undo.push({ what: reverse.join(' '), run: () => runInNetns(netnsPath, reverse) });
  }
}

/** remove(): idempotent; what could not be removed is logged (the cold path never fails teardown). */
function removeOnce(undo: Undo[], log: ShimLogger): () => Promise<void> {
  let removing: Promise<void> | undefined;
  return () => {
    removing ??= rollBack(undo, log).then(() => undefined);
    return removing;
  };
}

export async function setUpPodNetwork(netnsPath: string, log: ShimLogger): Promise<PodNetwork> {
  const undo: Undo[] = [];
  try {
    await checkNetns(netnsPath);
    const { interfaces, routes } = await readNetns(netnsPath);
    for (const [index, nic] of interfaces.entries()) {
      await runMirrorSteps(netnsPath, mirrorSteps({ device: nic.name, tap: tapName(index), mtu: nic.mtu }), undo);
    }
    const nics = interfaces.map((nic, index) => ({ id: `net${index}`, tap: tapName(index), mac: nic.mac }));
    log.info({ netns: netnsPath, interfaces: interfaces.map((nic) => nic.name) }, 'pod network mirrored to taps');
    return { netnsPath, interfaces, routes, nics, vhost: vhostNetUsable(), remove: removeOnce(undo, log) };
  } catch (err) {
    await rollBack(undo, log);
    throw SandboxError.wrap(err, 'pod network', 'host-failure');
  }
}

/** How long the guest may take to release a hot-plugged NIC at device_del (pciehp waits 5 s first). */
const UNPLUG_TIMEOUT_MS = 15_000;

/** What hot-plugging the pod's NICs needs of the running VM (vm_control.ts's ControlledVm has it). */
export interface NetHotplugVm {
  /** QEMU's PID: QEMU makes the taps in its own netns, /proc/<pid>/ns/net. */
  readonly pid: number;
  addNetDevice(device: NetHotplugDevice, connect: () => Promise<unknown>): Promise<void>;
  removeNetDevice(id: string, timeoutMs: number): Promise<void>;
}

/** One interface as a NIC: QEMU makes the tap, it moves into the pod netns and is wired, then the NIC goes on a root port. */
async function plugInterface(
  netnsPath: string,
  nic: PodInterface,
  vhost: boolean,
  vm: NetHotplugVm,
  ports: RootPortPool,
  undo: Undo[],
): Promise<PodNic> {
  const tap = hotTapName();
  const port = ports.take(tap);
  undo.push({ what: `release root port ${port}`, run: async () => ports.release(port) });
  await vm.addNetDevice({ id: tap, ifname: tap, mac: nic.mac, vhost, port }, async () => {
    // The fd QEMU holds keeps working across the move; the tap goes away with it wherever it is.
    await runInNetns(`/proc/${vm.pid}/ns/net`, ['ip', 'link', 'set', 'dev', tap, 'netns', netnsPath]);
    await runMirrorSteps(netnsPath, connectSteps({ device: nic.name, tap, mtu: nic.mtu }), undo);
  });
  undo.push({ what: `remove ${nicId(tap)} and its tap`, run: () => vm.removeNetDevice(tap, UNPLUG_TIMEOUT_MS) });
  return { id: tap, tap, mac: nic.mac };
}

/** remove() of a hot-plugged network: idempotent; tries every step, then names what failed. */
function removeOrFail(netnsPath: string, undo: Undo[], log: ShimLogger): () => Promise<void> {
  let removing: Promise<void> | undefined;
  const run = async (): Promise<void> => {
    const failures = await rollBack(undo, log);
    if (failures.length > 0) {
      throw new SandboxError('host-failure', `pod network ${netnsPath} removed, but: ${failures.join('; ')}`);
    }
  };
  return () => {
    removing ??= run();
    return removing;
  };
}

/**
 * The pod's network for a VM that runs already (a pooled one, whose QEMU started in the host
 * netns): per interface a hot-plugged virtio-net NIC with the interface's MAC on a free root port
 * of `ports` (shared with the VM's volumes), its tap mirrored to the interface as on the cold path.
 * All or nothing; remove() takes the NICs, taps and filters away, and cleans the netns even when
 * QEMU is gone already.
 */
export async function hotplugPodNetwork(
  netnsPath: string,
  vm: NetHotplugVm,
  ports: RootPortPool,
  log: ShimLogger,
): Promise<PodNetwork> {
  const undo: Undo[] = [];
  try {
    await checkNetns(netnsPath);
    const { interfaces, routes } = await readNetns(netnsPath);
    const vhost = vhostNetUsable();
    const nics: PodNic[] = [];
    for (const nic of interfaces) nics.push(await plugInterface(netnsPath, nic, vhost, vm, ports, undo));
    log.info({ netns: netnsPath, nics: nics.map((nic) => nic.id) }, 'pod network hot-plugged');
    return { netnsPath, interfaces, routes, nics, vhost, remove: removeOrFail(netnsPath, undo, log) };
  } catch (err) {
    const failures = await rollBack(undo, log);
    const wrapped = SandboxError.wrap(err, 'pod network', 'host-failure');
    if (failures.length === 0) throw wrapped;
    throw new SandboxError(wrapped.kind, `${wrapped.message}; undoing it also failed: ${failures.join('; ')}`, {
      cause: err,
    });
  }
}
