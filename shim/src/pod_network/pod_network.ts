// The pod's network for its VM: when the sandbox's spec names a network namespace (CRI's pod
// netns, Docker's container netns), each interface CNI made there gets a tap mirrored to it
// (tap_mirror.ts) and becomes one virtio-net NIC of the VM with the interface's MAC; the agent
// gives the guest NIC the interface's addresses, MTU and routes. Set-up is all or nothing, and
// remove() takes away only what set-up made, so CNI DEL finds the netns as CNI left it.

import { accessSync, constants } from 'node:fs';
import type { ShimLogger } from '../logger';
import type { ShimSpec } from '../oci_spec';
import { SandboxError } from '../sandbox_error';
import { parseInterfaces, parseRoutes, type PodInterface, type PodRoute } from './netns_interfaces';
import { libnetworkHook, type OciHook } from './docker_netns';
import { checkNetns, runInNetns } from './netns_exec';
import { mirrorSteps, tapName } from './tap_mirror';

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

/** Runs every step; a failure undoes the steps done, newest first, and rethrows. */
async function mirrorAll(netnsPath: string, interfaces: readonly PodInterface[], log: ShimLogger) {
  const undo: (readonly string[])[] = [];
  const removeAll = async (): Promise<void> => {
    for (const argv of undo.splice(0).reverse()) {
      await runInNetns(netnsPath, argv).catch((err: unknown) => {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'pod network teardown step failed');
      });
    }
  };
  try {
    for (const [index, nic] of interfaces.entries()) {
      for (const step of mirrorSteps({ device: nic.name, tap: tapName(index), mtu: nic.mtu })) {
        await runInNetns(netnsPath, step.argv);
        if (step.undo !== undefined) undo.push(step.undo);
      }
    }
  } catch (err) {
    await removeAll();
    throw err;
  }
  return removeAll;
}

export async function setUpPodNetwork(netnsPath: string, log: ShimLogger): Promise<PodNetwork> {
  try {
    await checkNetns(netnsPath);
    const { interfaces, routes } = await readNetns(netnsPath);
    const removeAll = await mirrorAll(netnsPath, interfaces, log);
    const nics = interfaces.map((nic, index) => ({ id: `net${index}`, tap: tapName(index), mac: nic.mac }));
    let removing: Promise<void> | undefined;
    log.info({ netns: netnsPath, interfaces: interfaces.map((nic) => nic.name) }, 'pod network mirrored to taps');
    return {
      netnsPath,
      interfaces,
      routes,
      nics,
      vhost: vhostNetUsable(),
      remove: () => {
        removing ??= removeAll();
        return removing;
      },
    };
  } catch (err) {
    throw SandboxError.wrap(err, 'pod network', 'host-failure');
  }
}
