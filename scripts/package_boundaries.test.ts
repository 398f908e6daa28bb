// The component boundaries are build errors, not review comments: in a two-package fixture laid
// out like this repository, the lint run (dependency-cruiser with the repository's own rules)
// refuses a relative import into another package and an import of an undeclared package, and the
// typecheck refuses a path into a package that its `exports` do not name.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './repo_root.cjs';

const ROOT = repoRoot(__dirname);

interface Run {
  readonly code: number;
  readonly output: string;
}

function run(tool: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'node_modules', '.bin', tool), args, { cwd }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, output: stdout + stderr });
    });
  });
}

function write(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

describe('package boundaries', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-boundaries-'));
    write(dir, {
      'package.json': JSON.stringify({ name: 'fixture', private: true, workspaces: ['a', 'b'] }),
      'tsconfig.json': JSON.stringify({
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: [] },
        include: ['a', 'b'],
      }),
      'a/package.json': JSON.stringify({ name: '@vfs/a', private: true, dependencies: {} }),
      'b/package.json': JSON.stringify({ name: '@vfs/b', private: true, exports: { '.': './src/index.ts' } }),
      'b/src/index.ts': 'export const pub = 1;\n',
      'b/src/private.ts': 'export const secret = 2;\n',
      'a/src/ok.ts': 'export const own = 3;\n',
    });
    mkdirSync(join(dir, 'node_modules', '@vfs'), { recursive: true });
    symlinkSync(join(dir, 'b'), join(dir, 'node_modules', '@vfs', 'b'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const lint = (): Promise<Run> =>
    run('depcruise', ['--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'err', 'a', 'b'], dir);

  it('passes a package that keeps to itself', async () => {
    expect(await lint()).toMatchObject({ code: 0 });
  });

  it('fails the lint run on a relative import into another package and on an undeclared package', async () => {
    write(dir, {
      'a/src/relative.ts': "import { secret } from '../../b/src/private';\nexport const x = secret;\n",
      'a/src/undeclared.ts': "import { pub } from '@vfs/b';\nexport const y = pub;\n",
    });
    const result = await lint();
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('no-relative-import-across-packages: a/src/relative.ts → b/src/private.ts');
    expect(result.output).toContain('a: shipped code uses only its dependencies: a/src/undeclared.ts → b/src/index.ts');
    rmSync(join(dir, 'a/src/relative.ts'));
    rmSync(join(dir, 'a/src/undeclared.ts'));
  });

  it("fails the typecheck on a path into a package's private files", async () => {
    write(dir, { 'a/src/deep.ts': "import { secret } from '@vfs/b/src/private';\nexport const z = secret;\n" });
    const result = await run('tsc', ['-p', 'tsconfig.json'], dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain("a/src/deep.ts(1,24): error TS2307: Cannot find module '@vfs/b/src/private'");
    rmSync(join(dir, 'a/src/deep.ts'));
  });
});
