import { runCommand, versionLine } from './command_output';

describe('runCommand', () => {
  it('returns what the program printed', async () => {
    await expect(runCommand('sh', ['-c', 'echo one; echo two'])).resolves.toEqual({ ok: true, stdout: 'one\ntwo\n' });
  });

  it('says a program is not on PATH rather than throwing', async () => {
    await expect(runCommand('vfs-no-such-program', ['--version'])).resolves.toEqual({
      ok: false,
      error: 'vfs-no-such-program not found on PATH',
    });
  });

  it('reports a failing program’s exit status and first stderr line', async () => {
    await expect(runCommand('sh', ['-c', 'echo "bad option" >&2; echo more >&2; exit 3'])).resolves.toEqual({
      ok: false,
      error: 'sh failed (exit status 3): bad option',
    });
  });
});

describe('versionLine', () => {
  it('is the first line printed, or why there is none', () => {
    expect(versionLine({ ok: true, stdout: '\nQEMU emulator version 7.2.22\nCopyright\n' })).toBe(
      'QEMU emulator version 7.2.22',
    );
    expect(versionLine({ ok: false, error: 'qemu not found on PATH' })).toBe('unavailable (qemu not found on PATH)');
  });
});
