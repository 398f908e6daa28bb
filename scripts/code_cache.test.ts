import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundleSync, TARGETS } from './bundle.cjs';
import { repoRoot } from './repo_root.cjs';

// The shim and the daemon start once per sandbox; each loads its bundle with the V8 code cache the
// build made. V8 takes a cache only from the Node version and flags that made it: one made without
// the daemon's --max-semi-space-size, say, is rejected and the start parses the bundle again.
describe('the per-sandbox programs start from the code cache of their bundle', () => {
  // Inside node_modules, so that the daemon's bundle finds koffi (external) as it does in build/bin.
  const cache = join(repoRoot(), 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'vfs-code-cache-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['shim', ['-v'], /^containerd-shim-vfs-v2:/],
    ['daemon', ['--version'], /^vfs-virtiofsd /],
  ])('%s', (name, args, version) => {
    const target = TARGETS[name];
    expect(target?.codeCache).toBe(true);
    const program = bundleSync(target.entry, join(dir, name), target);
    expect(existsSync(`${program}.js.cache`)).toBe(true);
    const run = spawnSync(program, args, { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(version);
    expect(run.status).toBe(0);
  });

  it("is made without the V8 flags of the build's NODE_OPTIONS", () => {
    const target = TARGETS.daemon;
    const saved = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = '--stack-trace-limit=50';
    try {
      bundleSync(target.entry, join(dir, 'daemon-built-with-options'), target);
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
    const run = spawnSync(join(dir, 'daemon-built-with-options'), ['--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('says so when V8 rejects the cache, and still starts', () => {
    const target = TARGETS.daemon;
    const program = bundleSync(target.entry, join(dir, 'daemon-plain'), target);
    const run = spawnSync('node', [program, '--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toMatch(/V8 rejected its code cache/);
    expect(run.stdout).toMatch(/^vfs-virtiofsd /);
  });
});
