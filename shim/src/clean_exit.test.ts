import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TARGETS } from '@vfs/build';
import { CLEAN_EXIT_MARKER, clearCleanExit, markCleanExit } from './clean_exit';

// The shim's /bin/sh prologue (scripts/bundle.cjs) in front of a stand-in program that tells
// whether Node ran, with what arguments, and in strict mode.
describe("the shim's delete without Node after a clean Shutdown", () => {
  let dir: string;
  let program: string;
  let bundle: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-clean-exit-'));
    bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    program = join(dir, 'containerd-shim-vfs-v2');
    const shebang = TARGETS.shim?.shebang ?? '';
    const body = '"use strict";\nlet strict = false;\ntry { undeclared = 1; } catch { strict = true; }\n';
    writeFileSync(program, `${shebang}\n${body}console.log(strict, process.argv.slice(2).join(" "));\n`);
    chmodSync(program, 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...args: string[]): string => execFileSync(program, args, { cwd: bundle, encoding: 'utf8' });

  it('answers delete with an empty DeleteResponse once the mark is there, and runs Node otherwise', () => {
    const deleteArgs = ['-namespace', 'ns', '-id', 'c1', '-bundle', bundle, 'delete'];
    expect(run(...deleteArgs)).toBe(`true ${deleteArgs.join(' ')}\n`);
    markCleanExit(bundle);
    expect(existsSync(join(bundle, CLEAN_EXIT_MARKER))).toBe(true);
    expect(run(...deleteArgs)).toBe('');
    expect(run('-v')).toBe('true -v\n');
    expect(run('-bundle', join(dir, 'other'), 'delete')).toBe(`true -bundle ${join(dir, 'other')} delete\n`);
    clearCleanExit(bundle);
    expect(run(...deleteArgs)).toBe(`true ${deleteArgs.join(' ')}\n`);
  });

  it('is the shebang of the product shim and of the test shim', () => {
    expect(TARGETS.shim?.shebang).toContain(`"$b/${CLEAN_EXIT_MARKER}"`);
    expect(TARGETS['test-shim']?.shebang).toBe(TARGETS.shim?.shebang);
  });
});
