import { agentExitStatus, bootArgs, bootModeOf, INIT_MARKERS, markerUptime, scriptExitStatus } from './guest_boot';

describe('guest boot arguments', () => {
  it('writes the words each mode needs and no others', () => {
    expect(bootArgs({ mode: 'poweroff' })).toEqual(['vfs.mode=poweroff']);
    expect(bootArgs({ mode: 'script', tag: 'work', script: 'run.sh' })).toEqual([
      'vfs.mode=script',
      'vfs.tag=work',
      'vfs.script=run.sh',
    ]);
    expect(bootArgs({ mode: 'script', tag: 'work', script: 'run.sh', readonly: true })).toContain('vfs.ro=1');
    expect(bootArgs({ mode: 'agent' })).toEqual(['vfs.mode=agent']);
    expect(bootArgs({ mode: 'agent', runtimeTag: 'rt' })).toEqual(['vfs.mode=agent', 'vfs.runtime_tag=rt']);
    expect(bootArgs({ mode: 'agent', runtimeTag: 'rt', runtimeImage: 'img' })).toEqual([
      'vfs.mode=agent',
      'vfs.runtime_tag=rt',
      'vfs.runtime_image=img',
    ]);
    expect(bootArgs({ mode: 'agent', runtimePmem: true })).toEqual(['vfs.mode=agent', 'vfs.runtime_pmem=1']);
    expect(bootArgs({ mode: 'agent', runtimePmem: false })).toEqual(['vfs.mode=agent']);
  });

  it('refuses a value the kernel command line would split or drop', () => {
    expect(() => bootArgs({ mode: 'script', tag: 'work', script: 'my script.sh' })).toThrow(/vfs\.script/);
    expect(() => bootArgs({ mode: 'agent', runtimeTag: '' })).toThrow(/vfs\.runtime_tag/);
  });
});

describe('guest console markers', () => {
  const console =
    '[    0.2] PCI: Fatal\r\nvfs-init: start 0.95\r\nvfs-init: agent /dev/vport3p1 1.19\r\nvfs-init: agent exited with 0\r\nVFS-SCRIPT-EXIT=3\r\n';

  it('reads the uptime of each milestone, on a serial console that ends lines with CRLF', () => {
    expect(markerUptime(console, 'start')).toBe(0.95);
    expect(markerUptime(console, 'agent')).toBe(1.19);
    expect(markerUptime(console, 'poweroff')).toBeUndefined();
  });

  it('reads the agent and script exit statuses', () => {
    expect(agentExitStatus(console)).toBe('0');
    expect(scriptExitStatus(console)).toBe(3);
    expect(scriptExitStatus('')).toBeUndefined();
  });

  test('finds the first marker after firmware output that left its line open (q35 SeaBIOS)', () => {
    const console = 'SeaBIOS (version 1.16.2)\nBooting from ROM..vfs-init: start 1.91\nvfs-init: poweroff 1.94\n';
    expect(INIT_MARKERS.start.exec(console)?.groups?.uptime).toBe('1.91');
  });
});

describe('bootModeOf', () => {
  it('reads vfs.mode from a kernel command line, the last word winning as in /init', () => {
    expect(bootModeOf('console=ttyS0 vfs.mode=agent vfs.runtime_pmem=1\n')).toBe('agent');
    expect(bootModeOf('vfs.mode=agent vfs.mode=script')).toBe('script');
    expect(bootModeOf('root=/dev/sda1 ro quiet')).toBeUndefined();
    expect(bootModeOf('vfs.mode=shell')).toBeUndefined();
    expect(bootModeOf('novfs.mode=agent')).toBeUndefined();
  });
});
