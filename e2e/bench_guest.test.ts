// Smoke test of bench-guest (not of speed): bundle it and vfs-virtiofsd, run --quick at a tiny
// scale (one boot per back end under TCG) with --trace, and check that the table and the JSON hold
// numbers for every back end and phase, request cycles for every daemon, and that nothing is left
// behind. With our QEMU (make vmm) built, the
// DAX pair must run too (--dax fails the run otherwise); without it, the output must say so.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleSync, TARGETS } from '@vfs/build';
import { OUR_QEMU } from '@vfs/contracts';
import { REPO_ROOT } from '@vfs/harness/repo';

const C_DAEMON = '/usr/lib/qemu/virtiofsd';
const maybe = existsSync(C_DAEMON) && process.getuid?.() === 0 ? test : test.skip;

// Our QEMU is bench-guest's default --vmm: once make vmm built it, the DAX pair must run.
const withDax = existsSync(OUR_QEMU);
const BACKENDS = ['ours', 'c', 'rust', '9p', ...(withDax ? ['ours-vmm', 'ours-dax', 'ours-dax-inode'] : [])];
const PHASES = [
  'seq-write',
  'seq-read',
  'mmap-read',
  'mmap-write',
  'rand-read-4k',
  'create',
  'stat',
  'readdir',
  'unlink',
  'tree-walk-cold',
  'tree-walk-warm',
  'small-write',
  'small-read',
  'unpack',
];

interface Series {
  samples: number[];
  summary: { min: number; median: number; max: number };
}
interface Report {
  date: string;
  machine: { cpu: string; cores: number };
  load: { start: number; end: number };
  results: { cache: string; phase: string; unit: string; backends: Record<string, Series | null> }[];
  cpu: { cache: string; backend: string; daemonMs: Series | null; qemuMs: Series | null }[];
  dax: { measured: boolean; reason?: string; windowMib?: number };
  trace: {
    cache: string;
    backend: string;
    cycles: number;
    serviceUs: { p50: number };
    inCallsUs: { mean: number };
    betweenCallsUs: { mean: number };
    callsPerCycle: number;
    turnaroundUs: { p50: number };
    wokenBy: Record<string, number>;
  }[];
}

/** Temp dirs and processes a run could leave behind. */
function leftovers(): string[] {
  const dirs = [tmpdir(), '/dev/shm'].flatMap((d) => readdirSync(d).filter((n) => n.startsWith('vfs-bench-guest-')));
  const processes = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('vfs-bench-guest-');
      } catch {
        return false;
      }
    });
  return [...dirs, ...processes.map((p) => `pid ${p}`)];
}

const positive = (n: number): boolean => Number.isFinite(n) && n > 0;

maybe(
  `bench-guest --quick reports every phase for every back end${withDax ? ', DAX on our QEMU included,' : ''} and leaves nothing behind`,
  () => {
    // Inside node_modules so the bundles resolve koffi (kept external) from the repo.
    const dir = join(REPO_ROOT, 'node_modules/.cache', `vfs-bench-guest-test-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const bench = join(dir, 'bench-guest.js');
      bundleSync(TARGETS['bench-guest']!.entry, bench);
      bundleSync(TARGETS.daemon!.entry, join(dir, 'vfs-virtiofsd'));
      const before = leftovers();
      const json = join(dir, 'out.json');
      const traces = join(dir, 'traces');
      const dax = withDax ? ['--dax'] : [];
      const args = [bench, '--quick', '--scale', '0.02', '--json', json, '--trace', traces, ...dax];
      const table = execFileSync(process.execPath, args, {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 660_000,
      });
      const lines = table.split('\n');
      expect(lines[0]).toMatch(/^cache=auto \(9p: cache=loose\)/);
      expect(lines[1]?.trim().split(/\s{3,}/)).toEqual([
        'workload',
        'unit',
        ...BACKENDS,
        'ours/c',
        'ours/rust',
        'ours/9p',
        ...(withDax ? ['dax/no-dax', 'inode/no-dax'] : []),
      ]);
      if (!withDax) expect(table).toMatch(/^DAX: needs make vmm \(/m);
      for (const phase of PHASES) expect(lines.some((l) => l.trim().startsWith(`${phase} `))).toBe(true);
      expect(table).toMatch(/^daemon request cycles \(--trace/m);

      const doc = JSON.parse(readFileSync(json, 'utf8')) as Report;
      expect(Number.isNaN(Date.parse(doc.date))).toBe(false);
      expect(doc.machine.cores).toBeGreaterThan(0);
      expect(doc.load.start).toBeGreaterThanOrEqual(0);
      expect(doc.load.end).toBeGreaterThan(0);
      expect(doc.dax.measured).toBe(withDax);
      if (withDax) expect(doc.dax.windowMib).toBe(256);
      expect(doc.results.map((r) => r.phase)).toEqual(PHASES);
      for (const r of doc.results) {
        expect(r.cache).toBe('auto');
        for (const b of BACKENDS) {
          const series = r.backends[b];
          expect(series?.samples).toHaveLength(1);
          expect(positive(series!.summary.median)).toBe(true);
        }
      }
      expect(doc.cpu.map((c) => c.backend)).toEqual(BACKENDS);
      for (const c of doc.cpu) {
        expect(positive(c.qemuMs!.summary.median)).toBe(true);
        if (c.backend === '9p') expect(c.daemonMs).toBeNull();
        else expect(positive(c.daemonMs!.summary.median)).toBe(true);
      }
      const daemons = BACKENDS.filter((b) => b !== '9p');
      expect(doc.trace.map((t) => t.backend)).toEqual(daemons);
      for (const t of doc.trace) {
        // Even a tiny workload is hundreds of FUSE requests: a wake and a call signal for each, or
        // for each batch.
        expect(t.cycles).toBeGreaterThan(100);
        expect(positive(t.serviceUs.p50) && positive(t.turnaroundUs.p50)).toBe(true);
        // Most requests make a file-system call, and take time in it and around it.
        expect(t.callsPerCycle).toBeGreaterThan(0.5);
        expect(positive(t.inCallsUs.mean) && positive(t.betweenCallsUs.mean)).toBe(true);
        expect(Object.values(t.wokenBy).reduce((a, b) => a + b, 0)).toBeCloseTo(1);
      }
      expect(readdirSync(traces).sort()).toEqual(daemons.map((b) => `${b}-auto-0.perf.data`).sort());
      expect(leftovers()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  720_000,
);
