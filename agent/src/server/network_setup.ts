/**
 * The pod's network in the guest (CreateSandbox): each NIC, found by the MAC the shim gave it (the
 * pod veth's), takes the veth's name, MTU and addresses, then the pod's routes are added. The
 * containers share the VM's network namespace (namespaces.ts), so this is the pod's network.
 * busybox `ip` (the initramfs' /bin/ip) does the netlink work: a few runs once per sandbox.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { errorMessage } from '@vfs/contracts';
import type { NetworkInterface, NetworkRoute } from '@vfs/proto/gen/agent/agent';
import { invalid } from './call_errors';

const run = promisify(execFile);
const SYS_NET = '/sys/class/net';
const IP = '/bin/ip';
/**
 * A cold VM's NICs probe during the kernel's boot; a pooled VM's are hot-plugged just before
 * CreateSandbox and need the guest's pciehp probe first (0.2–0.3 s after netdev_add under TCG,
 * measured; the bound is for a loaded host, as volume hotplug's). The wait ends as soon as every
 * NIC is there.
 */
const NIC_WAIT_MS = 15_000;
const NIC_POLL_MS = 50;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const CIDR = /^[0-9A-Fa-f.:]+\/\d{1,3}$/;
const ADDRESS = /^[0-9A-Fa-f.:]+$/;

/** Guest interface names by MAC address (lower case), from sysfs. */
export type NicsByMac = ReadonlyMap<string, string>;

function check(interfaces: readonly NetworkInterface[], routes: readonly NetworkRoute[]): void {
  for (const nic of interfaces) {
    if (!MAC.test(nic.mac)) throw invalid(`network interface MAC "${nic.mac}" is not a MAC address`);
    if (!IFNAME.test(nic.name)) throw invalid(`network interface name "${nic.name}" is not an interface name`);
    for (const address of nic.addresses) {
      if (!CIDR.test(address)) throw invalid(`address "${address}" of ${nic.name} is not address/prefix`);
    }
  }
  for (const route of routes) {
    if (route.destination !== 'default' && !CIDR.test(route.destination))
      throw invalid(`route destination "${route.destination}" is neither "default" nor a prefix`);
    if (route.gateway !== '' && !ADDRESS.test(route.gateway))
      throw invalid(`route gateway "${route.gateway}" is not an IP address`);
    if (!interfaces.some((nic) => nic.name === route.device))
      throw invalid(`route to ${route.destination} names device "${route.device}", which is not a pod interface`);
  }
}

/**
 * The `ip` runs that configure the NICs and routes; the guest's own name for each NIC comes from
 * `nics`. A NIC is renamed while down (the kernel refuses otherwise), then brought up.
 */
export function networkCommands(
  interfaces: readonly NetworkInterface[],
  routes: readonly NetworkRoute[],
  nics: NicsByMac,
): string[][] {
  check(interfaces, routes);
  const commands: string[][] = [['link', 'set', 'dev', 'lo', 'up']];
  for (const nic of interfaces) {
    const current = nics.get(nic.mac);
    if (current === undefined) throw new Error(`no guest network interface has MAC ${nic.mac} (${nic.name})`);
    if (current !== nic.name) commands.push(['link', 'set', 'dev', current, 'name', nic.name]);
    if (nic.mtu > 0) commands.push(['link', 'set', 'dev', nic.name, 'mtu', String(nic.mtu)]);
    for (const address of nic.addresses) commands.push(['addr', 'add', address, 'dev', nic.name]);
    commands.push(['link', 'set', 'dev', nic.name, 'up']);
  }
  // On-link routes first: a gateway must be reachable when its route is added.
  const ordered = [...routes].sort((a, b) => Number(a.gateway !== '') - Number(b.gateway !== ''));
  for (const route of ordered) {
    const via = route.gateway === '' ? [] : ['via', route.gateway];
    commands.push([...(route.ipv6 ? ['-6'] : []), 'route', 'add', route.destination, ...via, 'dev', route.device]);
  }
  return commands;
}

function readNics(): Map<string, string> {
  const nics = new Map<string, string>();
  for (const name of readdirSync(SYS_NET)) {
    try {
      nics.set(readFileSync(`${SYS_NET}/${name}/address`, 'utf8').trim().toLowerCase(), name);
    } catch {
      // An interface that went away while listing has no address to match.
    }
  }
  return nics;
}

async function nicsWith(macs: readonly string[]): Promise<NicsByMac> {
  const deadline = Date.now() + NIC_WAIT_MS;
  for (;;) {
    const nics = readNics();
    if (macs.every((mac) => nics.has(mac)) || Date.now() >= deadline) return nics;
    await new Promise((resolve) => setTimeout(resolve, NIC_POLL_MS));
  }
}

/** Configures the pod's network; nothing to do without interfaces. */
export async function configureNetwork(
  interfaces: readonly NetworkInterface[],
  routes: readonly NetworkRoute[],
): Promise<void> {
  if (interfaces.length === 0) return;
  const nics = await nicsWith(interfaces.map((nic) => nic.mac.toLowerCase()));
  const lower = interfaces.map((nic) => ({ ...nic, mac: nic.mac.toLowerCase() }));
  for (const args of networkCommands(lower, routes, nics)) {
    try {
      await run(IP, args);
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      throw new Error(`ip ${args.join(' ')}: ${stderr === undefined || stderr === '' ? errorMessage(err) : stderr}`);
    }
  }
}
