// Component boundaries, checked by `make lint` (dependency-cruiser). The rules come from the
// workspace manifests, so a package.json is the one place that says what a package may use:
// - no relative import leaves its package: other packages are reached by name (@vfs/…), whose
//   `exports` name the public entry points (tsc refuses any other path into a package);
// - a package's shipped files use only its `dependencies`; its tests and test_support may also use
//   its `devDependencies` (the harness, say); nothing shipped reaches test code.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = process.cwd();
const manifest = (dir) => JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
const workspaces = manifest('.').workspaces ?? [];
const packages = workspaces
  .filter((dir) => existsSync(join(root, dir, 'package.json')))
  .map((dir) => {
    const m = manifest(dir);
    const names = (deps) => Object.keys(deps ?? {}).filter((n) => n.startsWith('@vfs/'));
    return { dir, name: m.name, deps: names(m.dependencies), devDeps: names(m.devDependencies) };
  });
const dirOf = new Map(packages.map((p) => [p.name, p.dir]));
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
const TEST_FILES = '(\\.test\\.ts$|/test_support/)';

/** Files of the packages not in `allowed` (nor the package itself). */
function otherPackages(self, allowed) {
  const ok = new Set([self.dir, ...allowed.map((n) => dirOf.get(n)).filter(Boolean)]);
  const rest = packages.filter((p) => !ok.has(p.dir)).map((p) => escape(p.dir));
  return rest.length === 0 ? '^$' : `^(${rest.join('|')})/`;
}

const packageRules = packages.flatMap((p) => [
  {
    name: `${p.dir}: shipped code uses only its dependencies`,
    severity: 'error',
    from: { path: `^${escape(p.dir)}/`, pathNot: TEST_FILES },
    to: { path: otherPackages(p, p.deps) },
  },
  {
    name: `${p.dir}: tests use only its dependencies and devDependencies`,
    severity: 'error',
    from: { path: `^${escape(p.dir)}/.*${TEST_FILES}` },
    to: { path: otherPackages(p, [...p.deps, ...p.devDeps]) },
  },
]);

module.exports = {
  forbidden: [
    {
      name: 'no-relative-import-across-packages',
      comment: 'Import another package by its name (@vfs/…), through its public entry points.',
      severity: 'error',
      from: { path: `^(${packages.map((p) => escape(p.dir)).join('|')})/` },
      to: { dependencyTypes: ['local'], pathNot: '^$1/' },
    },
    {
      name: 'shipped-code-not-on-test-support',
      comment: "A package's own test_support is for its tests.",
      severity: 'error',
      from: { pathNot: TEST_FILES },
      to: { path: '/test_support/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    ...packageRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|build)/' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'require', 'default'],
      extensions: ['.ts', '.cjs', '.js', '.d.cts', '.json'],
      mainFields: ['main', 'types'],
    },
    parser: 'swc',
  },
};
