import { assertAgentGuest } from './guest_only';

const GUEST = 'console=ttyS0 quiet panic=-1 vfs.mode=agent vfs.runtime_pmem=1';

describe('the agent runs only in a vfs guest', () => {
  it('accepts a guest booted in agent mode', () => {
    expect(() => assertAgentGuest(GUEST)).not.toThrow();
    expect(() => assertAgentGuest(`${GUEST}\n`)).not.toThrow();
  });

  it.each([
    ['a host', 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-40-amd64 root=UUID=1234 ro quiet'],
    ['a guest in another mode', 'console=ttyS0 vfs.mode=script vfs.tag=work vfs.script=run.sh'],
    ['a later word overriding agent mode', 'vfs.mode=agent vfs.mode=poweroff'],
    ['a look-alike word', 'xvfs.mode=agent vfs.modes=agent'],
  ])('refuses %s, naming why', (_what, cmdline) => {
    expect(() => assertAgentGuest(cmdline)).toThrow(/no vfs.mode=agent.*must not run on a host/);
  });

  it('refuses this host, before it opens its port', () => {
    expect(() => assertAgentGuest()).toThrow(/not a vfs guest/);
  });
});
