import { SandboxError } from '../sandbox_error';
import { parseInterfaces, parseRoutes } from './netns_interfaces';

// `ip -j -d addr show` in a netns CNI's bridge plugin set up (trimmed to the fields read and a few others).
const ADDR_JSON = JSON.stringify([
  {
    ifindex: 1,
    ifname: 'lo',
    mtu: 65536,
    link_type: 'loopback',
    address: '00:00:00:00:00:00',
    addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }],
  },
  {
    ifindex: 5,
    ifname: 'eth0',
    mtu: 1450,
    link_type: 'ether',
    address: '8E:5C:DD:20:FD:12',
    linkinfo: { info_kind: 'veth' },
    addr_info: [
      { family: 'inet', local: '10.99.12.5', prefixlen: 24, scope: 'global' },
      { family: 'inet6', local: 'fd00:12::5', prefixlen: 64, scope: 'global' },
      { family: 'inet6', local: 'fe80::8c5c:ddff:fe20:fd12', prefixlen: 64, scope: 'link' },
    ],
  },
]);

function kindOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof SandboxError ? `${err.kind}: ${err.message}` : String(err);
  }
  return undefined;
}

describe('parseInterfaces', () => {
  it('reads each interface but lo with its lower-case MAC, MTU and global addresses', () => {
    expect(parseInterfaces(ADDR_JSON)).toEqual([
      { name: 'eth0', mac: '8e:5c:dd:20:fd:12', mtu: 1450, addresses: ['10.99.12.5/24', 'fd00:12::5/64'] },
    ]);
  });

  it('refuses an interface that carries no Ethernet frames, naming it', () => {
    const wg = JSON.stringify([{ ifname: 'wg0', mtu: 1420, link_type: 'none', linkinfo: { info_kind: 'wireguard' } }]);
    expect(kindOf(() => parseInterfaces(wg))).toBe(
      'bad-request: pod network namespace: interface wg0 (link type none, wireguard) carries no Ethernet frames: vfs mirrors only Ethernet interfaces (veth, macvlan…) into the VM',
    );
    const tap = JSON.stringify([
      { ifname: 'tap9', mtu: 1500, link_type: 'ether', address: '02:00:00:00:00:01', linkinfo: { info_kind: 'tun' } },
    ]);
    expect(kindOf(() => parseInterfaces(tap))).toContain('interface tap9 is a tap/tun device');
  });

  it('treats empty output as no interfaces and refuses output that is not JSON', () => {
    expect(parseInterfaces('')).toEqual([]);
    expect(kindOf(() => parseInterfaces('Device "x" does not exist.'))).toContain('did not print JSON');
  });
});

describe('parseRoutes', () => {
  const devices = new Set(['eth0']);

  it('keeps the gateway and added routes of pod interfaces, leaving out the kernel’s and other devices’', () => {
    const json = JSON.stringify([
      { dst: 'default', gateway: '10.99.12.1', dev: 'eth0', flags: [] },
      { dst: '10.99.12.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '10.99.12.5' },
      { dst: '10.96.0.10', gateway: '10.99.12.1', dev: 'eth0' },
      { dst: '192.168.0.0/16', dev: 'eth9' },
      { type: 'blackhole', dst: '10.1.0.0/16' },
    ]);
    expect(parseRoutes(json, false, devices)).toEqual([
      { destination: 'default', gateway: '10.99.12.1', device: 'eth0', ipv6: false },
      { destination: '10.96.0.10/32', gateway: '10.99.12.1', device: 'eth0', ipv6: false },
    ]);
  });

  it('leaves out IPv6 link-local routes, which the guest makes itself', () => {
    const json = JSON.stringify([
      { dst: 'fe80::/64', dev: 'eth0', protocol: 'kernel' },
      { dst: 'fe80::/64', dev: 'eth0', protocol: 'boot' },
      { dst: 'default', gateway: 'fd00:12::1', dev: 'eth0', protocol: 'static' },
    ]);
    expect(parseRoutes(json, true, devices)).toEqual([
      { destination: 'default', gateway: 'fd00:12::1', device: 'eth0', ipv6: true },
    ]);
  });
});
