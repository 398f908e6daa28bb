// Smoke test of the benchmark harness (not of speed): bundle bench-daemon and vfs-virtiofsd, run a
// tiny round against the three daemons (ours, C, Rust; the Rust one is installed on demand), and check the JSON it writes and that nothing is left behind.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleSync, TARGETS } from '@vfs/build';
import { REPO_ROOT } from '@vfs/harness/repo';
const C_DAEMON = '/usr/lib/qemu/virtiofsd';
const maybe = existsSync(C_DAEMON) && process.getuid?.() === 0 ? test : test.skip;

/** A named program of the bundler, built into `outfile` instead of build/bin. */
function bundle(target: string, outfile: string): void {
  bundleSync(TARGETS[target]?.entry ?? target, outfile);
}

/** Mounts, temp dirs and daemon processes a benchmark run could leave behind. */
function leftovers(): string[] {
  const mounts = readFileSync('/proc/self/mounts', 'latin1')
    .split('\n')
    .filter((l) => l.startsWith('vfs-bench '));
  const dirs = [tmpdir(), '/dev/shm'].flatMap((d) => readdirSync(d).filter((n) => n.startsWith('vfs-bench-')));
  const daemons = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('/vfs-bench-');
      } catch {
        return false;
      }
    });
  return [...mounts, ...dirs, ...daemons.map((p) => `pid ${p}`)];
}

maybe(
  'bench-daemon --quick at a tiny scale writes a well-formed report',
  () => {
    // Inside node_modules so the bundles resolve koffi (kept external) from the repo.
    const dir = join(REPO_ROOT, 'node_modules/.cache', `vfs-bench-test-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const bench = join(dir, 'bench-daemon.js');
      bundle('bench-daemon', bench);
      bundle('daemon', join(dir, 'vfs-virtiofsd'));
      const before = leftovers();
      const json = join(dir, 'out.json');
      execFileSync(
        process.execPath,
        [bench, '--quick', '--rounds', '1', '--warmup', '0', '--scale', '0.01', '--json', json],
        {
          stdio: 'pipe',
          timeout: 150_000,
        },
      );
      const doc = JSON.parse(readFileSync(json, 'utf8')) as {
        workloads: {
          name: string;
          depth: number;
          unit: string;
          ours: number;
          c: number;
          rust: number;
          ratio: number;
          ratio_rust: number;
        }[];
        rss_kib: { ours: number; c: number; rust: number };
        memory_kib: Record<'idle' | 'end', Record<'ours' | 'c' | 'rust', { rssKib: number; pssKib: number }>>;
      };
      expect(Object.keys(doc).sort()).toEqual(['memory_kib', 'rss_kib', 'workloads']);
      expect(doc.workloads).toHaveLength(12);
      expect(doc.workloads.map((w) => w.depth)).toEqual([1, 16, 1, 16, 1, 16, 1, 16, 1, 16, 1, 16]);
      expect(new Set(doc.workloads.map((w) => w.name)).size).toBe(6);
      for (const w of doc.workloads) {
        expect(Object.keys(w).sort()).toEqual(['c', 'depth', 'name', 'ours', 'ratio', 'ratio_rust', 'rust', 'unit']);
        expect(['ops/s', 'MB/s']).toContain(w.unit);
        for (const n of [w.ours, w.c, w.rust, w.ratio, w.ratio_rust]) expect(Number.isFinite(n) && n > 0).toBe(true);
        expect(w.ratio).toBeCloseTo(w.ours / w.c, 9);
        expect(w.ratio_rust).toBeCloseTo(w.ours / w.rust, 9);
      }
      expect(doc.workloads.filter((w) => w.unit === 'MB/s').map((w) => w.name)).toEqual([
        'seq read 1MiB',
        'seq read 1MiB',
        'seq write 1MiB',
        'seq write 1MiB',
      ]);
      expect(doc.rss_kib.ours).toBeGreaterThan(0);
      expect(doc.rss_kib.c).toBeGreaterThan(0);
      expect(doc.rss_kib.rust).toBeGreaterThan(0);
      for (const when of [doc.memory_kib.idle, doc.memory_kib.end])
        for (const m of [when.ours, when.c, when.rust]) expect(0 < m.pssKib && m.pssKib <= m.rssKib).toBe(true);
      expect(leftovers()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  180_000,
);
