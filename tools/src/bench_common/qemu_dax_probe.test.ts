import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeDaxQemu } from './qemu_dax_probe';

describe('probeDaxQemu', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dax-qemu-probe-test-'));
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
    expect(probeDaxQemu(qemu)).toEqual({ ok: true, version: 'QEMU emulator version 10.2.2' });
  });

  it('refuses a QEMU without cache-size, and a missing one, saying why', () => {
    const qemu = fakeQemu('  tag=<str>');
    expect(probeDaxQemu(qemu)).toEqual({
      ok: false,
      reason: `${qemu} (QEMU emulator version 10.2.2) has no vhost-user-fs-pci cache-size`,
    });
    expect(probeDaxQemu(join(dir, 'absent'))).toEqual({ ok: false, reason: `no ${join(dir, 'absent')}` });
  });
});
