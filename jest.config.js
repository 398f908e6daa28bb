/**
 * Two projects: `unit` (every test beside its code: no VM, no containerd, only `npm ci` and root)
 * and `e2e` (e2e/: real containerd, QEMU and guests). `make check` runs unit, `make e2e` e2e,
 * `make test` both. Tests are TypeScript transformed by swc (TypeScript 7's native compiler has
 * no JS API for ts-jest).
 */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testPathIgnorePatterns: ['/node_modules/', '/build/'],
};

module.exports = {
  // Removes the bundles the tests' workers left (scripts/jest-global-teardown.cjs).
  globalTeardown: '<rootDir>/scripts/jest-global-teardown.cjs',
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/**/*.test.ts'],
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, '<rootDir>/e2e/'],
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/e2e/**/*.test.ts'] },
  ],
};
