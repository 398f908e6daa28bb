import { DaxUnavailableError, planBackends } from './vmm_qemu';

describe('planBackends', () => {
  const missing = () => ({ ok: false, reason: 'no /q' }) as const;
  const present = () => ({ ok: true, version: 'QEMU emulator version 10.2.2' }) as const;

  it('runs the DAX pair on a usable QEMU and says which', () => {
    expect(planBackends(['ours', 'ours-vmm', 'ours-dax'], false, '/q', present)).toEqual({
      backends: ['ours', 'ours-vmm', 'ours-dax'],
      dax: { measured: true, qemu: '/q', qemuVersion: 'QEMU emulator version 10.2.2', windowMib: 256 },
      daxNote: null,
    });
  });

  it('drops a default DAX pair without our QEMU and says it needs make vmm', () => {
    expect(planBackends(['ours', 'c', 'ours-vmm', 'ours-dax'], false, '/q', missing)).toEqual({
      backends: ['ours', 'c'],
      dax: { measured: false, reason: 'needs make vmm (no /q)' },
      daxNote: 'DAX: needs make vmm (no /q)',
    });
  });

  it('fails a run that requires the DAX pair without our QEMU', () => {
    expect(() => planBackends(['ours-dax'], true, '/q', missing)).toThrow(DaxUnavailableError);
    expect(() => planBackends(['ours-dax'], true, '/q', missing)).toThrow('DAX: needs make vmm (no /q)');
  });

  it('does not look for our QEMU when no back end needs it', () => {
    const probe = jest.fn(missing);
    expect(planBackends(['ours', '9p'], false, '/q', probe).daxNote).toBeNull();
    expect(probe).not.toHaveBeenCalled();
  });
});
