// bench-guest (`make bench-guest ARGS="…"`): the file-system data path as a guest sees it. One VM
// image (Debian's generic kernel, which has both virtiofs and 9p; a static C workload in the
// initramfs) boots under TCG against our vfs-virtiofsd, QEMU's C virtiofsd, the Rust virtiofsd 1.13
// and virtio-9p, and against our daemon on our own QEMU (make vmm) without and with a DAX window,
// one boot per back end and cache mode in each round, the back ends' order rotating from round to
// round so drift on a shared machine falls on all alike. The share is a tmpfs dir.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@vfs/harness/repo';
import { ensureRustVirtiofsd } from '@vfs/harness/rust_virtiofsd';
import { progress, runBench } from '../bench_common/bench_main';
import { roundName, roundOrder } from '../bench_common/round_order';
import type { DaemonPaths } from './backends';
import { ensurePerf } from './daemon_trace';
import { type GuestBenchArgs, parseGuestBenchArgs, USAGE } from './guest_args';
import { runGuest } from './guest_run';
import { GuestResults } from './report';
import { makeTree } from './share';
import { probeDaxQemu } from '../bench_common/qemu_dax_probe';
import { planBackends } from './vmm_qemu';

const IMAGE_DIR = join(REPO_ROOT, 'build', 'bench-guest');
const C_VIRTIOFSD = '/usr/lib/qemu/virtiofsd';

function buildImage(): { kernel: string; initrd: string } {
  // Its progress goes to stderr: stdout carries only the table.
  execFileSync('bash', [join(REPO_ROOT, 'tools', 'src', 'bench_guest', 'image.sh'), IMAGE_DIR], {
    stdio: ['ignore', 2, 2],
  });
  return { kernel: join(IMAGE_DIR, 'vmlinux'), initrd: join(IMAGE_DIR, 'initramfs.cpio') };
}

async function bench(args: GuestBenchArgs, work: string, defer: (what: string, step: () => unknown) => void) {
  const { backends, dax, daxNote } = planBackends(args.backends, args.daxRequired, args.vmmQemu, () =>
    probeDaxQemu(args.vmmQemu),
  );
  if (daxNote !== null) progress(`bench-guest: ${daxNote}`);
  if (args.trace !== undefined) {
    ensurePerf();
    mkdirSync(args.trace, { recursive: true });
  }
  const image = buildImage();
  const paths: DaemonPaths = {
    ours: join(__dirname, 'vfs-virtiofsd'),
    c: C_VIRTIOFSD,
    rust: backends.includes('rust') ? ensureRustVirtiofsd() : '',
    vmmQemu: args.vmmQemu,
    ...(args.cpuProf === undefined ? {} : { oursCpuProf: args.cpuProf }),
  };
  const share = mkdtempSync('/dev/shm/vfs-bench-guest-share-');
  defer(`remove ${share}`, () => rmSync(share, { recursive: true, force: true }));
  makeTree(share, args.treeFiles);
  progress(
    `bench-guest: ${backends.join(', ')} × cache ${args.caches.join(', ')}; scale ${args.scale}; ` +
      `${args.warmup} warm-up + ${args.runs} rounds`,
  );
  // The host's 1-minute load average around the run: on a shared machine, what a reader of the
  // results needs to judge their spread.
  const loadAtStart = loadavg()[0] ?? 0;
  const results = new GuestResults(backends, args.caches);
  for (let round = 0; round < args.warmup + args.runs; round++) {
    for (const cache of args.caches) {
      for (const backend of roundOrder(backends, round)) {
        const started = performance.now();
        const run = await runGuest({
          backend,
          cache,
          round,
          scale: args.scale,
          share,
          work,
          image,
          paths,
          track: defer,
          ...(args.trace === undefined ? {} : { traceDir: args.trace }),
        });
        progress(
          `${roundName(round, args.warmup, args.runs)} cache=${cache} ${backend}: ` +
            `${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
        if (round >= args.warmup) results.add(cache, backend, run);
      }
    }
  }
  const load = { start: loadAtStart, end: loadavg()[0] ?? 0 };
  process.stdout.write(`${results.table()}\n${daxNote === null ? '' : `${daxNote}\n`}`);
  if (args.trace !== undefined) process.stdout.write(`\n${results.cyclesTable()}\n`);
  progress(`bench-guest: host load average ${load.start.toFixed(2)} at the start, ${load.end.toFixed(2)} at the end`);
  if (args.json !== undefined)
    results.writeJson(args.json, {
      date: new Date().toISOString(),
      options: { runs: args.runs, warmup: args.warmup, scale: args.scale, treeFiles: args.treeFiles },
      vm: 'q35, TCG, 2 vCPUs, 512 MiB',
      load,
      dax,
    });
}

function main(argv: readonly string[]): void {
  let args: GuestBenchArgs | null;
  try {
    args = parseGuestBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`bench-guest: ${(err as Error).message}\n`);
    process.exit(2);
  }
  if (args === null) {
    process.stdout.write(USAGE);
    return;
  }
  const parsed = args;
  runBench('bench-guest', '/tmp/vfs-bench-guest-', (scope) => bench(parsed, scope.work, scope.defer));
}

main(process.argv.slice(2));
