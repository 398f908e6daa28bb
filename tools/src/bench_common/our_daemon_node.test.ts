import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonProfile, nodeCommand, shippedNode } from './our_daemon_node';

describe("our daemon's Node in the benchmarks", () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-node-flags-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const program = (text: string): string => {
    const p = join(dir, `p${Math.random().toString(36).slice(2)}`);
    writeFileSync(p, text);
    return p;
  };

  test("takes the shipped daemon's Node flags and the variables it drops from its shebang", () => {
    expect(
      shippedNode(program('#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node --max-semi-space-size=4\n"use strict";\n')),
    ).toEqual({ unsetEnv: ['NODE_EXTRA_CA_CERTS'], flags: ['--max-semi-space-size=4'] });
    expect(shippedNode(program('#!/usr/bin/env -S node --a  --b=1\n'))).toEqual({
      unsetEnv: [],
      flags: ['--a', '--b=1'],
    });
  });

  test('a script without such a shebang runs with no extra flags', () => {
    const none = { unsetEnv: [], flags: [] };
    expect(shippedNode(program('#!/usr/bin/env node\n'))).toEqual(none);
    expect(shippedNode(program('#!/usr/bin/env -S -u X python3\n'))).toEqual(none);
    expect(shippedNode(program('"use strict";\n'))).toEqual(none);
    expect(shippedNode(program(''))).toEqual(none);
  });

  test('the command runs the script on this Node as the shebang would, env -u first when it drops variables', () => {
    expect(nodeCommand('/d', { unsetEnv: [], flags: ['--f'] }, ['--cpu-prof'])).toEqual([
      process.execPath,
      ['--f', '--cpu-prof', '/d'],
    ]);
    expect(nodeCommand('/d', { unsetEnv: ['A', 'B'], flags: ['--f'] })).toEqual([
      '/usr/bin/env',
      ['-u', 'A', '-u', 'B', process.execPath, '--f', '/d'],
    ]);
  });

  test('a profiled daemon writes its profile into the directory, outside any sandbox or seccomp filter', () => {
    expect(daemonProfile('/prof')).toEqual({
      nodeFlags: ['--cpu-prof', '--cpu-prof-dir=/prof'],
      daemonArgs: ['--sandbox=none', '--seccomp=none'],
    });
  });
});
