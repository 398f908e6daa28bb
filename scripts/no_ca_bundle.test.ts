import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TARGETS } from './bundle.cjs';

// Node parses NODE_EXTRA_CA_CERTS at every start (≈ 85 ms here, ≈ 0.9 s under TCG); no host program
// makes a TLS connection, so each starts without it. A bundle that cannot load makes Node warn on
// stderr before any code runs: the proof that it was not read.
const BODY = 'console.log(process.env.NODE_EXTRA_CA_CERTS ?? "unset");\n';

describe('every host program starts without NODE_EXTRA_CA_CERTS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-no-ca-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const programs = Object.entries(TARGETS).filter(([, t]) => t.program === true);

  it('covers the shipped programs', () => {
    expect(programs.map(([name]) => name)).toEqual(expect.arrayContaining(['daemon', 'shim', 'vfs-runtime']));
  });

  it.each(programs)('%s', (name, target) => {
    const path = join(dir, name);
    writeFileSync(path, `${target.shebang ?? ''}\n${BODY}`);
    chmodSync(path, 0o755);
    const run = spawnSync(path, ['-v'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'no-such-bundle.pem') },
      timeout: 30_000,
    });
    expect(run.stderr).not.toMatch(/extra certs/);
    expect(run.stdout).toBe('unset\n');
    expect(run.status).toBe(0);
  });
});
