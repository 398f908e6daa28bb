import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleSync, TARGETS } from './bundle.cjs';

// V8 holds a script's source for the life of the process, as two bytes a character once a single
// character is not ASCII: the shim's 1.1 MB of source would then take 3.4 MB in every sandbox.
describe('the long-running programs bundle to ASCII-only source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-ascii-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['shim', 'daemon'])('%s', (name) => {
    const target = TARGETS[name];
    const program = bundleSync(target.entry, join(dir, name), target);
    const source = readFileSync(target.codeCache === true ? `${program}.js` : program);
    const offset = source.findIndex((byte) => byte > 0x7f);
    const context = offset < 0 ? '' : source.subarray(Math.max(0, offset - 60), offset + 20).toString('utf8');
    expect({ offset, context }).toEqual({ offset: -1, context: '' });
  });
});
