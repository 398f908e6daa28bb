import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHIM_VERSION } from './version';

it('matches package.json', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  expect(SHIM_VERSION).toBe(pkg.version);
});
