import { Code } from '@vfs/proto/ttrpc';
import { networkCommands } from './network_setup';

const nic = { mac: '0a:58:0a:58:00:05', name: 'eth0', mtu: 1450, addresses: ['10.88.0.5/16'] };
const nics = new Map([['0a:58:0a:58:00:05', 'eth1']]);

describe('networkCommands', () => {
  it('renames the NIC found by its MAC, sets MTU and addresses, brings it up, then adds on-link routes before gateways', () => {
    const routes = [
      { destination: 'default', gateway: '10.88.0.1', device: 'eth0', ipv6: false },
      { destination: '10.200.0.0/24', gateway: '', device: 'eth0', ipv6: false },
    ];
    expect(networkCommands([nic], routes, nics)).toEqual([
      ['link', 'set', 'dev', 'lo', 'up'],
      ['link', 'set', 'dev', 'eth1', 'name', 'eth0'],
      ['link', 'set', 'dev', 'eth0', 'mtu', '1450'],
      ['addr', 'add', '10.88.0.5/16', 'dev', 'eth0'],
      ['link', 'set', 'dev', 'eth0', 'up'],
      ['route', 'add', '10.200.0.0/24', 'dev', 'eth0'],
      ['route', 'add', 'default', 'via', '10.88.0.1', 'dev', 'eth0'],
    ]);
  });

  it('keeps a NIC that already has the pod name and sends IPv6 routes with -6', () => {
    const commands = networkCommands(
      [{ ...nic, name: 'eth1', mtu: 0, addresses: ['fd00::5/64'] }],
      [{ destination: 'default', gateway: 'fd00::1', device: 'eth1', ipv6: true }],
      nics,
    );
    expect(commands).toEqual([
      ['link', 'set', 'dev', 'lo', 'up'],
      ['addr', 'add', 'fd00::5/64', 'dev', 'eth1'],
      ['link', 'set', 'dev', 'eth1', 'up'],
      ['-6', 'route', 'add', 'default', 'via', 'fd00::1', 'dev', 'eth1'],
    ]);
  });

  it('refuses malformed input as InvalidArgument before running anything', () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as { code: Code }).code;
      }
      return undefined;
    };
    expect(bad(() => networkCommands([{ ...nic, name: 'eth0; reboot' }], [], nics))).toBe(Code.InvalidArgument);
    expect(bad(() => networkCommands([{ ...nic, addresses: ['10.88.0.5'] }], [], nics))).toBe(Code.InvalidArgument);
    const strayRoute = [{ destination: 'default', gateway: '10.88.0.1', device: 'eth9', ipv6: false }];
    expect(bad(() => networkCommands([nic], strayRoute, nics))).toBe(Code.InvalidArgument);
  });

  it('names the MAC when no guest NIC has it', () => {
    expect(() => networkCommands([nic], [], new Map())).toThrow('no guest network interface has MAC 0a:58:0a:58:00:05');
  });
});
