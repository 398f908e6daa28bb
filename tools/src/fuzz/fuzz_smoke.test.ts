// The fuzzer's short fixed-seed run, part of `make test`: a few thousand FUSE and vhost-user cases
// against the real daemon (default sandbox and seccomp) must leave it alive, answering, within its
// bounds and with nothing outside the share changed. `make fuzz` is the long run.
import { rmSync } from 'node:fs';
import { bundleDaemonForTest } from '@vfs/harness/bundles';
import { formatReport } from './findings';
import { runFuzz } from './fuzz_run';

const CASES = 3000;
let daemonScript: string;

beforeAll(() => {
  daemonScript = bundleDaemonForTest();
});
afterAll(() => rmSync(daemonScript, { force: true }));

test(`${CASES} fixed-seed cases find no crash, hang, resource overrun, change outside the share or malformed reply`, async () => {
  const report = await runFuzz({
    seed: 1,
    start: 0,
    cases: CASES,
    durationMs: Number.POSITIVE_INFINITY,
    batch: 64,
    depth: 16,
    hangMs: 5000,
    maxRssMib: 1024,
    maxFds: 4096,
    vhostRate: 0.01,
    daxMib: 0,
    daemonScript,
    daemonArgs: [],
    reproduceExtra: '',
  });
  expect(report.cases).toBe(CASES);
  expect(report.vhostCases).toBeGreaterThan(0);
  // The whole report on failure: the findings carry the seed, cases and ops that reproduce them.
  expect(report.findings.length === 0 ? '' : formatReport(report)).toBe('');
}, 120_000);
