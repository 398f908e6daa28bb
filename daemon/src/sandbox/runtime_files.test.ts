import { outermost, packageRoot, runtimeFiles } from './runtime_files';

test('packageRoot finds plain and scoped packages, nested node_modules included', () => {
  expect(packageRoot('/r/node_modules/koffi/src/koffi/index.cjs')).toBe('/r/node_modules/koffi');
  expect(packageRoot('/r/node_modules/@koromix/koffi-linux-x64/koffi.node')).toBe(
    '/r/node_modules/@koromix/koffi-linux-x64',
  );
  expect(packageRoot('/r/node_modules/a/node_modules/b/index.js')).toBe('/r/node_modules/a/node_modules/b');
  expect(packageRoot('/r/build/bin/vfs-virtiofsd')).toBeNull();
});

test('outermost drops paths inside others', () => {
  expect(outermost(['/r/node_modules/a', '/r/node_modules/a/node_modules/b', '/r/x', '/r/xy', '/r/x'])).toEqual([
    '/r/node_modules/a',
    '/r/x',
    '/r/xy',
  ]);
});

test('the worker script and the packages of loaded modules are listed', () => {
  const files = runtimeFiles(__filename, [require.resolve('koffi')]);
  expect(files).toContain(__filename);
  expect(files.some((f) => f.endsWith('/node_modules/koffi'))).toBe(true);
  expect(() => runtimeFiles('relative.js', [])).toThrow(/not an absolute path/);
});
