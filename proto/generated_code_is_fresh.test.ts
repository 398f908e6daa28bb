// proto/gen is committed: this fails when someone edits a .proto (or the generator's options)
// without regenerating, and says how to fix it.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { hostPrograms } from '@vfs/harness/host_programs';

const PROTO_DIR = __dirname;
const COMMITTED = join(PROTO_DIR, 'gen');

function listFiles(root: string, dir: string = root): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? listFiles(root, path) : [relative(root, path)];
    })
    .sort();
}

describe('proto/gen', () => {
  let scratch: string;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'vfs-proto-fresh-'));
  });

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  hostPrograms('protoc').it('matches what proto/generate.sh produces from proto/defs', () => {
    const fresh = join(scratch, 'gen');
    execFileSync('bash', [join(PROTO_DIR, 'generate.sh'), fresh], { stdio: ['ignore', 'pipe', 'pipe'] });
    const hint = 'proto/gen is stale: run `make proto` (bash proto/generate.sh) and commit the result';

    const expectedFiles = listFiles(fresh);
    expect({ files: listFiles(COMMITTED), hint }).toEqual({ files: expectedFiles, hint });
    const stale = expectedFiles.filter(
      (file) => readFileSync(join(fresh, file), 'utf8') !== readFileSync(join(COMMITTED, file), 'utf8'),
    );
    expect({ stale, hint }).toEqual({ stale: [], hint });
  });
});
