import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VFS_VERSION } from './version';

it('VFS_VERSION is the root package.json version', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  expect(VFS_VERSION).toBe(pkg.version);
});
