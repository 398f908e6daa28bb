import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { findProgram, hostPrograms } from './host_programs';

describe('findProgram', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-host-programs-'));
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
    chmodSync(join(dir, 'tool'), 0o755);
    writeFileSync(join(dir, 'plain'), '');
    mkdirSync(join(dir, 'subdir'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the first executable file of that name on the search path', () => {
    expect(findProgram('tool', ['', join(dir, 'subdir'), dir].join(delimiter))).toBe(join(dir, 'tool'));
    expect(findProgram('sh', ['/nonexistent', '/bin'].join(delimiter))).toBe('/bin/sh');
  });

  it('passes over files that do not execute, directories and missing names', () => {
    expect(findProgram('plain', dir)).toBeUndefined();
    expect(findProgram('subdir', dir)).toBeUndefined();
    expect(findProgram('qemu-system-x86_64', dir)).toBeUndefined();
    expect(findProgram('tool', '')).toBeUndefined();
  });

  it('takes a path as it is, whatever the search path', () => {
    expect(findProgram(join(dir, 'tool'), '')).toBe(join(dir, 'tool'));
    expect(findProgram(join(dir, 'plain'), dir)).toBeUndefined();
  });
});

describe('hostPrograms', () => {
  const path = process.env['PATH'];
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-host-programs-'));
    writeFileSync(join(dir, 'containerd'), '#!/bin/sh\n');
    chmodSync(join(dir, 'containerd'), 0o755);
    process.env['PATH'] = dir;
  });
  afterEach(() => {
    process.env['PATH'] = path;
    jest.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  it("hands out jest's own describe and it when every program is there", () => {
    const gate = hostPrograms('containerd');
    expect(gate.missing).toEqual([]);
    expect(gate.describe).toBe(describe);
    expect(gate.it).toBe(it);
  });

  it('skips when one is missing, with a line naming the program and its Debian package', () => {
    const written = jest.spyOn(process.stderr, 'write').mockReturnValue(true);
    const skippedBlock = jest.spyOn(describe, 'skip').mockReturnValue(undefined);
    const skippedCase = jest.spyOn(it, 'skip').mockReturnValue(undefined);
    const gate = hostPrograms('containerd', 'qemu-system-x86_64', 'getfattr');
    expect(gate.missing).toEqual(['qemu-system-x86_64', 'getfattr']);
    const body = (): void => undefined;
    gate.describe('a real QEMU', body);
    gate.it('reads the xattrs', body, 1000);
    expect(skippedBlock).toHaveBeenCalledWith('a real QEMU', body);
    expect(skippedCase).toHaveBeenCalledWith('reads the xattrs', body, 1000);
    const why = 'no qemu-system-x86_64 (Debian package qemu-system-x86), getfattr (Debian package attr)';
    expect(written.mock.calls).toEqual([[`skipped, ${why}: a real QEMU\n`], [`skipped, ${why}: reads the xattrs\n`]]);
  });
});
