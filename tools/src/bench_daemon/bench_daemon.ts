// bench-daemon (`make bench-daemon ARGS="…"`): our daemon against QEMU's C virtiofsd and the Rust
// virtiofsd 1.13, side by side in one run, on one tmpfs tree, through the same vhost-user front-end
// driver. Each workload and depth runs several rounds; in every round the daemons run back to back,
// the one going first rotating, and the medians are compared, so noise from a shared machine hits
// all alike.
//
// The daemons are started once and serve the whole run; the workloads' FORGETs (untimed) keep
// their inode tables from growing across rounds, as a guest's dcache eviction would.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@vfs/contracts';
import { ensureRustVirtiofsd } from '@vfs/harness/rust_virtiofsd';
import { daemonProfile } from '../bench_common/our_daemon_node';
import { roundOrder } from '../bench_common/round_order';
import { DAEMON_KINDS, Daemon, type DaemonKind, type DaemonMemory, type DaemonPaths } from './daemons';
import { BenchUsageError, parseBenchArgs, USAGE, type BenchOptions } from './options';
import { formatTable, Row, writeJson } from './report';
import { Target } from './target';
import { BenchTree, type TreeSize } from './tree';
import { workloads, type Workload } from './workloads';

const MiB = 1 << 20;

function sizes(opts: BenchOptions): { tree: TreeSize; creates: number } {
  const base = opts.quick ? { files: 2000, big: 64, creates: 2000 } : { files: 10_000, big: 256, creates: 10_000 };
  const files = Math.max(16, Math.round(base.files * opts.scale));
  const mib = Math.max(1, Math.round(base.big * opts.scale));
  return {
    tree: { files, smallFileBytes: 4096, bigFileBytes: mib * MiB, writeBytes: mib * MiB },
    creates: Math.max(16, Math.round(base.creates * opts.scale)),
  };
}

function daemonPaths(opts: BenchOptions): DaemonPaths {
  const paths = {
    ours: opts.ours ?? join(__dirname, 'vfs-virtiofsd'),
    c: opts.c,
    rust: opts.rust ?? ensureRustVirtiofsd(),
  };
  for (const p of [paths.ours, paths.c, paths.rust])
    if (!existsSync(p)) throw new BenchUsageError(`${p} does not exist (run make bundle?)`);
  return paths;
}

/** Lets signals and child-exit events through between rounds. */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

class Interrupted extends Error {}

async function run(opts: BenchOptions): Promise<void> {
  const paths = daemonPaths(opts);
  const { tree: size, creates } = sizes(opts);
  const selected = workloads(size, creates).filter(
    (w) => opts.only.length === 0 || opts.only.some((o) => w.name.includes(o)),
  );
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const tree = BenchTree.create(size);
  const daemons: Daemon[] = [];
  const targets: Target[] = [];
  // Whatever happens (an exception, process.exit), nothing is left behind.
  const lastResort = (): void => {
    for (const d of daemons) d.kill();
    tree.remove();
  };
  process.on('exit', lastResort);
  try {
    process.stderr.write(
      `tree: ${size.files} files, ${size.bigFileBytes / MiB} MiB file on ${tree.isMounted ? 'a fresh tmpfs' : '/dev/shm'}; ` +
        `${opts.warmup} warm-up + ${opts.rounds} rounds per workload and depth` +
        `${opts.paceUs > 0 ? `; the front-end waits ${opts.paceUs} µs after each reply` : ''}\n`,
    );
    for (const kind of DAEMON_KINDS) {
      const socketPath = join(tree.workDir, `${kind}.sock`);
      const profile = kind === 'ours' && opts.cpuProf !== undefined ? daemonProfile(opts.cpuProf) : null;
      const d = Daemon.start(paths, {
        kind,
        socketPath,
        sharedDir: tree.root,
        logPath: join(tree.workDir, `${kind}.log`),
        nodeFlags: profile?.nodeFlags ?? [],
        extraArgs: [...opts.oursArgs, ...(profile?.daemonArgs ?? [])],
      });
      daemons.push(d);
      try {
        targets.push(Target.connect(d, socketPath, opts.paceUs));
      } catch (err) {
        throw new Error(`${kind} daemon: ${errorMessage(err)}\n${d.logTail()}`);
      }
    }
    // Idle: started and connected, no request served yet.
    const idle = memoryOf(daemons);
    const rows: Row[] = [];
    for (const w of selected) {
      for (const depth of opts.depths) {
        rows.push(await measure(w, depth, targets, opts, () => interrupted));
        process.stderr.write(`${describe(rows[rows.length - 1]!)}\n`);
      }
    }
    const memory = { idle, end: memoryOf(daemons) };
    process.stdout.write(`${formatTable(rows, memory)}\n`);
    if (opts.json !== undefined) writeJson(opts.json, rows, memory);
  } finally {
    for (const t of targets) t.close();
    await Promise.all(daemons.map((d) => d.stop()));
    process.off('exit', lastResort);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    tree.remove();
  }
}

function memoryOf(daemons: readonly Daemon[]): Record<DaemonKind, DaemonMemory> {
  return { ours: daemons[0]!.memory(), c: daemons[1]!.memory(), rust: daemons[2]!.memory() };
}

async function measure(
  w: Workload,
  depth: number,
  targets: readonly Target[],
  opts: BenchOptions,
  stop: () => boolean,
): Promise<Row> {
  const row = new Row(w.name, depth, w.unit);
  for (let round = 0; round < opts.warmup + opts.rounds; round++) {
    // Rotate which daemon goes first, so drift within a round favours none.
    const order = roundOrder(targets, round);
    for (const t of order) {
      if (!t.daemon.running) throw new Error(`${t.kind} daemon exited\n${t.daemon.logTail()}`);
      w.prepare(t, depth);
      const cpu0 = t.daemon.cpuNs();
      const t0 = performance.now();
      const amount = w.run(t, depth);
      const seconds = (performance.now() - t0) / 1000;
      const cpuUs = (t.daemon.cpuNs() - cpu0) / 1000;
      w.finish(t);
      const units = w.unit === 'MB/s' ? amount / 1e6 : amount;
      if (round >= opts.warmup) row.samples[t.kind as DaemonKind].push({ rate: units / seconds, cpuUs: cpuUs / units });
      await breathe();
      if (stop()) throw new Interrupted('interrupted');
    }
  }
  return row;
}

function describe(r: Row): string {
  return (
    `${r.name} depth ${r.depth}: ours ${r.rate('ours').toFixed(1)} ${r.unit}, C ${r.rate('c').toFixed(1)} ${r.unit}, ` +
    `Rust ${r.rate('rust').toFixed(1)} ${r.unit}, ours/C ${r.ratio().toFixed(2)}, ours/Rust ${r.ratio('rust').toFixed(2)}`
  );
}

async function main(argv: readonly string[]): Promise<number> {
  let opts: BenchOptions | null;
  try {
    opts = parseBenchArgs(argv);
    if (opts === null) {
      process.stdout.write(USAGE);
      return 0;
    }
    await run(opts);
    return 0;
  } catch (err) {
    if (err instanceof Interrupted) {
      process.stderr.write('bench-daemon: interrupted; daemons stopped, tree removed\n');
      return 130;
    }
    process.stderr.write(
      `bench-daemon: ${err instanceof BenchUsageError ? `${err.message}\n${USAGE}` : (err as Error).stack}\n`,
    );
    return err instanceof BenchUsageError ? 2 : 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
