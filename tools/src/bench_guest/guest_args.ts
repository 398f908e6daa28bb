// Command line of bench-guest.
import { parseArgs } from 'node:util';
import { OUR_QEMU } from '@vfs/contracts';
import { countArg } from '../bench_common/count_arg';
import {
  BACKENDS,
  type Backend,
  CACHES,
  type Cache,
  DAX_MIN_FILE_KIB,
  DAX_WINDOW_MIB,
  onOurQemu,
  SYSTEM_BACKENDS,
  VMM_BACKENDS,
} from './backends';

export interface GuestBenchArgs {
  /** Measured rounds; each boots every back end once per cache mode, in rotating order. */
  readonly runs: number;
  /** Untimed rounds first. */
  readonly warmup: number;
  /** The workload's size factor (1: 64 MiB, 2000 files, 500 small files, 3000 unpacked files; default 0.1). */
  readonly scale: number;
  /** Files in the git-status-like tree the host makes before each boot. */
  readonly treeFiles: number;
  readonly backends: readonly Backend[];
  /**
   * Whether ours-vmm and ours-dax must run (--dax, or named in --backends): a run without our QEMU
   * then fails. Otherwise they are in the default set, dropped with a note when it is missing.
   */
  readonly daxRequired: boolean;
  /** Our QEMU (make vmm), which ours-vmm and ours-dax boot on. */
  readonly vmmQemu: string;
  readonly caches: readonly Cache[];
  readonly json?: string;
  /** Profile our daemon with node --cpu-prof into this dir (unsandboxed: the profile is written at exit). */
  readonly cpuProf?: string;
  /** Record each daemon's system calls with perf into this dir and report its request cycles. */
  readonly trace?: string;
}

export const USAGE = `usage: bench-guest [options]

Boots one VM image (Debian's generic kernel, a static C workload in the initramfs) under TCG against
each file-system back end — our vfs-virtiofsd, QEMU's C virtiofsd, the Rust virtiofsd 1.13 and
virtio-9p on the system QEMU; our vfs-virtiofsd on our QEMU (make vmm) without DAX (ours-vmm) and
with a ${DAX_WINDOW_MIB} MiB DAX window mounted dax=always (ours-dax) and dax=inode, files of at least
${DAX_MIN_FILE_KIB} KiB through the window (ours-dax-inode) — in interleaved rounds, and prints medians with
min–max and the host CPU of the daemon and of QEMU. The back ends on our QEMU run when it is there;
without it the output says "DAX: needs make vmm".

  --quick             a smoke run: --runs 1 --warmup 0 --scale 0.05 --cache auto (about 2 minutes)
  --runs N            measured rounds (default 3)
  --warmup N          untimed rounds first (default 0)
  --scale F           the workload's sizes times F (default 0.1; 1 is 64 MiB sequential, 2000
                      files of metadata, 500 small files, 3000 unpacked files, a 3000-file tree,
                      and takes about 20 times as long: under TCG on 2 shared cores a file
                      operation costs milliseconds)
  --backends A,B      a subset of ${BACKENDS.join(',')}
                      (naming ours-vmm, ours-dax or ours-dax-inode requires our QEMU)
  --dax               add ours-vmm, ours-dax and ours-dax-inode, and fail if our QEMU cannot run them
  --vmm PATH          our QEMU (default ${OUR_QEMU})
  --cache A,B         cache modes, a subset of ${CACHES.join(',')} (default both)
  --json FILE         also write the results as JSON
  --cpu-prof DIR      profile our daemon with node --cpu-prof into DIR (one .cpuprofile per boot;
                      the daemon then runs with --sandbox=none --seccomp=none: a sandboxed one cannot write it)
  --trace DIR         record each daemon's system calls and context switches with perf (tracepoints)
                      from the workload's start into DIR, one perf.data per boot, and print its
                      request cycles: service time (wake to call signal), the guest's turnaround
                      (call signal to the next wake), what woke it, and how often it lost its CPU
                      after signalling. Tracing slows every daemon, so read that run's rates as
                      perturbed. Installs perf (linux-perf) if missing; x86_64 only.
  -h, --help          this help
`;

function listArg<T extends string>(value: string | undefined, allowed: readonly T[], name: string): T[] {
  const items = (value ?? '').split(',').filter((s) => s !== '');
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (items.length === 0 || bad.length > 0)
    throw new Error(`--${name} must be a comma-separated subset of ${allowed.join(',')}, not '${value}'\n${USAGE}`);
  return items as T[];
}

function scaleArg(value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`--scale must be positive, not ${value}`);
  return n;
}

/** The back ends asked for, and whether the DAX pair among them is required rather than a default. */
function backendsArg(value: string | undefined, dax: boolean): { backends: Backend[]; daxRequired: boolean } {
  const named = value !== undefined ? listArg(value, BACKENDS, 'backends') : null;
  const base = named ?? [...SYSTEM_BACKENDS];
  const backends = dax ? [...base, ...VMM_BACKENDS.filter((b) => !base.includes(b))] : (named ?? [...BACKENDS]);
  return { backends, daxRequired: dax || (named?.some(onOurQemu) ?? false) };
}

/** Parses argv (without node and script); null for --help. */
export function parseGuestBenchArgs(argv: readonly string[]): GuestBenchArgs | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      scale: { type: 'string' },
      backends: { type: 'string' },
      dax: { type: 'boolean' },
      vmm: { type: 'string' },
      cache: { type: 'string' },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      trace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  const quick = values.quick === true;
  const scale = values.scale !== undefined ? scaleArg(values.scale) : quick ? 0.05 : 0.1;
  return {
    runs: countArg(values.runs, quick ? 1 : 3, 'runs', 1, USAGE),
    warmup: countArg(values.warmup, 0, 'warmup', 0, USAGE),
    scale,
    treeFiles: Math.max(10, Math.round(3000 * scale)),
    ...backendsArg(values.backends, values.dax === true),
    vmmQemu: values.vmm ?? OUR_QEMU,
    caches: values.cache !== undefined ? listArg(values.cache, CACHES, 'cache') : quick ? ['auto'] : [...CACHES],
    json: values.json,
    cpuProf: values['cpu-prof'],
    trace: values.trace,
  };
}
