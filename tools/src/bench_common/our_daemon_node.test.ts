import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonProfile, shippedNodeFlags } from './our_daemon_node';

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

  test("takes the shipped daemon's flags from its shebang", () => {
    expect(shippedNodeFlags(program('#!/usr/bin/env -S node --max-semi-space-size=4\n"use strict";\n'))).toEqual([
      '--max-semi-space-size=4',
    ]);
    expect(shippedNodeFlags(program('#!/usr/bin/env -S node --a  --b=1\n'))).toEqual(['--a', '--b=1']);
  });

  test('a script without such a shebang runs with no extra flags', () => {
    expect(shippedNodeFlags(program('#!/usr/bin/env node\n'))).toEqual([]);
    expect(shippedNodeFlags(program('"use strict";\n'))).toEqual([]);
    expect(shippedNodeFlags(program(''))).toEqual([]);
  });

  test('a profiled daemon writes its profile into the directory, outside any sandbox or seccomp filter', () => {
    expect(daemonProfile('/prof')).toEqual({
      nodeFlags: ['--cpu-prof', '--cpu-prof-dir=/prof'],
      daemonArgs: ['--sandbox=none', '--seccomp=none'],
    });
  });
});
