import { checkTemplate } from './template_check';

describe('the VM template check', () => {
  const dir = '/dev/shm/vfs-template';

  it('is ok when templates are off, and when the saved one is this configuration’s', () => {
    expect(checkTemplate({ enabled: false, dir, matches: false })).toEqual({
      status: 'ok',
      what: 'VM template',
      detail: 'off ([factory] enable_template = false): sandboxes boot their VMs',
    });
    expect(checkTemplate({ enabled: true, dir, savedAt: '2026-12-06T06:00:00Z', matches: true }).detail).toBe(
      'sandboxes resume /dev/shm/vfs-template (saved 2026-12-06T06:00:00Z)',
    );
  });

  it('warns that sandboxes boot when none is saved, or one of another configuration', () => {
    const none = checkTemplate({ enabled: true, dir, matches: false });
    expect(none.status).toBe('warn');
    expect(none.detail).toMatch(/none is saved in \/dev\/shm\/vfs-template: sandboxes boot/);
    const other = checkTemplate({ enabled: true, dir, savedAt: 'then', matches: false });
    expect(other.status).toBe('warn');
    expect(other.detail).toMatch(/another configuration or build: sandboxes boot/);
  });
});
