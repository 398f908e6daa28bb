// The pod's network as CNI left it in the netns, read from iproute2's JSON (`ip -j -d addr show`,
// `ip -j route show`): each interface but lo with its MAC, MTU and addresses, and the routes the
// guest must add. Routes the kernel made for an address (`proto kernel`) are left out: the guest's
// kernel makes them again when the agent adds the address.

import { isPlainObject } from '@vfs/contracts';
import { SandboxError } from '../sandbox_error';

export interface PodInterface {
  readonly name: string;
  /** The veth's MAC, which the VM's NIC takes: the pod keeps the MAC CNI's peers learnt. */
  readonly mac: string;
  readonly mtu: number;
  /** "10.88.0.5/16", "fd00::5/64": global addresses only (link-local ones the guest makes itself). */
  readonly addresses: readonly string[];
}

export interface PodRoute {
  readonly destination: string;
  readonly gateway: string;
  readonly device: string;
  readonly ipv6: boolean;
}

/** Interfaces the tc mirror can carry: Ethernet frames in, Ethernet frames out. */
const MIRRORABLE_LINK_TYPE = 'ether';

function fail(problem: string): never {
  throw new SandboxError('bad-request', `pod network namespace: ${problem}`);
}

function parseJsonArray(text: string, what: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text === '' ? '[]' : text);
  } catch {
    fail(`\`ip -j ${what}\` did not print JSON`);
  }
  if (!Array.isArray(parsed)) fail(`\`ip -j ${what}\` did not print an array`);
  return parsed;
}

function str(value: unknown, field: string): string {
  if (typeof value !== 'string') fail(`interface field ${field} is not a string`);
  return value;
}

function addressesOf(addrInfo: unknown): string[] {
  if (!Array.isArray(addrInfo)) return [];
  return addrInfo
    .filter(isPlainObject)
    .filter((a) => (a.family === 'inet' || a.family === 'inet6') && a.scope === 'global')
    .map((a) => `${str(a.local, 'addr_info.local')}/${Number(a.prefixlen)}`);
}

function interfaceOf(link: Record<string, unknown>): PodInterface {
  const name = str(link.ifname, 'ifname');
  const kind = isPlainObject(link.linkinfo) ? link.linkinfo.info_kind : undefined;
  if (link.link_type !== MIRRORABLE_LINK_TYPE) {
    fail(
      `interface ${name} (link type ${String(link.link_type)}${kind === undefined ? '' : `, ${String(kind)}`}) carries no Ethernet frames: vfs mirrors only Ethernet interfaces (veth, macvlan…) into the VM`,
    );
  }
  if (kind === 'tun') fail(`interface ${name} is a tap/tun device: vfs cannot mirror one into the VM`);
  const mtu = Number(link.mtu);
  if (!Number.isInteger(mtu) || mtu < 68) fail(`interface ${name} has no usable MTU (${String(link.mtu)})`);
  return { name, mac: str(link.address, 'address').toLowerCase(), mtu, addresses: addressesOf(link.addr_info) };
}

/** `ip -j -d addr show` → the interfaces to mirror; lo is the guest's own. */
export function parseInterfaces(json: string): PodInterface[] {
  return parseJsonArray(json, 'addr show')
    .filter(isPlainObject)
    .filter((link) => link.link_type !== 'loopback')
    .map(interfaceOf);
}

/** iproute2 prints a host route without its prefix length. */
function prefixOf(dst: string, ipv6: boolean): string {
  if (dst === 'default' || dst.includes('/')) return dst;
  return `${dst}/${ipv6 ? 128 : 32}`;
}

/** `ip -j [-6] route show` → the routes the guest adds, on the interfaces given. */
export function parseRoutes(json: string, ipv6: boolean, devices: ReadonlySet<string>): PodRoute[] {
  return parseJsonArray(json, 'route show')
    .filter(isPlainObject)
    .filter((r) => r.protocol !== 'kernel' && typeof r.dev === 'string' && devices.has(r.dev))
    .filter((r) => r.type === undefined || r.type === 'unicast')
    .filter((r) => !(ipv6 && typeof r.dst === 'string' && r.dst.startsWith('fe80:')))
    .map((r) => ({
      destination: prefixOf(str(r.dst, 'route dst'), ipv6),
      gateway: typeof r.gateway === 'string' ? r.gateway : '',
      device: String(r.dev),
      ipv6,
    }));
}
