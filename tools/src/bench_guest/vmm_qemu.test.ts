import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaxUnavailableError, planBackends, probeVmmQemu } from './vmm_qemu';

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

describe('probeVmmQemu', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vmm-qemu-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in QEMU that prints a version and the device properties given. */
  function fakeQemu(properties: string): string {
    const path = join(dir, 'qemu-system-x86_64');
    writeFileSync(
      path,
      `#!/bin/sh\ncase "$1" in --version) echo 'QEMU emulator version 10.2.2';; *) printf '%s\\n' '${properties}';; esac\n`,
    );
    chmodSync(path, 0o755);
    return path;
  }

  it('accepts a QEMU whose vhost-user-fs-pci has cache-size', () => {
    const qemu = fakeQemu('  cache-size=<size>      - (default: 0)\n  tag=<str>');
    expect(probeVmmQemu(qemu)).toEqual({ ok: true, version: 'QEMU emulator version 10.2.2' });
  });

  it('refuses a QEMU without cache-size, and a missing one, saying why', () => {
    const qemu = fakeQemu('  tag=<str>');
    expect(probeVmmQemu(qemu)).toEqual({
      ok: false,
      reason: `${qemu} (QEMU emulator version 10.2.2) has no vhost-user-fs-pci cache-size`,
    });
    expect(probeVmmQemu(join(dir, 'absent'))).toEqual({ ok: false, reason: `no ${join(dir, 'absent')}` });
  });
});
