import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyFlags, defaultMatrix, expandMatrix } from './matrix';
import { daxMissing, poolMissing, skipReason } from './skip_reasons';

describe('skipReason', () => {
  const host = { daxMissing: 'no DAX window', poolMissing: 'no warm pool' };
  const cells = expandMatrix(applyFlags(defaultMatrix(), { dax: 'off,on', pool: 'off,on' })).map((c) => c.config);

  it('runs a cell that asks for nothing missing and names everything a cell lacks', () => {
    expect(cells.map((cell) => skipReason(cell, host))).toEqual([
      undefined,
      'no warm pool',
      'no DAX window',
      'no DAX window; no warm pool',
    ]);
  });

  it('runs every cell on a host that has it all', () => {
    const able = { daxMissing: undefined, poolMissing: undefined };
    expect(cells.map((cell) => skipReason(cell, able))).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('poolMissing and daxMissing', () => {
  let dir: string;
  const fakeCli = (help: string): string => {
    const path = join(dir, 'vfs-runtime');
    writeFileSync(path, `#!/bin/sh\ncat <<'EOF'\n${help}\nEOF\n`);
    chmodSync(path, 0o755);
    return path;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-skip-test-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lets pool cells run with a build whose vfs-runtime has the pool command', () => {
    expect(poolMissing(fakeCli('commands:\n  pool serve [--size N]   keep N booted VMs ready'))).toBeUndefined();
  });

  it('skips pool cells with a build that has no pool command', () => {
    const cli = fakeCli('commands:\n  env   the environment');
    expect(poolMissing(cli)).toBe(`no warm pool in this build (${cli} has no pool command)`);
  });

  // The same kind of stand-in for QEMU's `-device vhost-user-fs-pci,help` (e2e/dax.test.ts boots ours).
  it('runs DAX cells on a QEMU whose vhost-user-fs-pci has cache-size, and names the remedy on one without', () => {
    expect(daxMissing(fakeCli('vhost-user-fs-pci options:\n  cache-size=<size>      -  (default: 0)'))).toBeUndefined();
    const upstream = fakeCli('vhost-user-fs-pci options:\n  queue-size=<uint16>    -  (default: 128)');
    expect(daxMissing(upstream)).toMatch(
      new RegExp(
        `^no virtio-fs DAX window: ${upstream} \\(.*\\) has no vhost-user-fs-pci cache-size; set hypervisor\\.path to our QEMU`,
      ),
    );
  });
});
