// Command line of bench-daemon.
export interface BenchOptions {
  readonly quick: boolean;
  /** Measured rounds per workload and depth, each running both daemons (alternating first). */
  readonly rounds: number;
  /** Untimed rounds before them (JIT and caches warm, as in a long-running daemon). */
  readonly warmup: number;
  /** Multiplies every count and size. */
  readonly scale: number;
  readonly depths: readonly number[];
  /** Substrings selecting workloads by name; empty: all. */
  readonly only: readonly string[];
  readonly json?: string;
  readonly ours?: string;
  /** More arguments for our daemon (--ours-arg, repeatable). */
  readonly oursArgs: readonly string[];
  readonly c: string;
  /** The Rust virtiofsd; undefined: the one install-rust-virtiofsd.sh installs (on demand). */
  readonly rust?: string;
  /** Run our daemon under `node --cpu-prof` writing profiles here. */
  readonly cpuProf?: string;
  /** The front-end waits this long after each reply before the slot's next request (pace.ts). */
  readonly paceUs: number;
}

export const USAGE = `usage: bench-daemon [options]

Drives vfs-virtiofsd, QEMU's C virtiofsd and the Rust virtiofsd 1.13 side by side through the
vhost-user front-end driver, on one tmpfs tree, and prints ours/C and ours/Rust ratios (median of
interleaved rounds).

  --quick             small counts and sizes (under a minute)
  --rounds N          measured rounds per workload and depth (default 5, quick 3)
  --warmup N          untimed rounds first (default 1)
  --scale F           multiply counts and sizes by F (e.g. 0.01 for a smoke test)
  --depths A,B        queue depths (default 1,16)
  --only NAME,...     run only workloads whose name contains one of these
  --json FILE         also write the results as JSON
  --ours PATH         vfs-virtiofsd bundle (default: next to this script)
  --ours-arg ARG      one more argument for vfs-virtiofsd (repeatable; e.g. --ours-arg=--seccomp=kill)
  --c PATH            C virtiofsd (default /usr/lib/qemu/virtiofsd)
  --rust PATH         Rust virtiofsd (default: build/rust-virtiofsd/virtiofsd, installed on demand
                      by scripts/install-rust-virtiofsd.sh)
  --cpu-prof DIR      profile our daemon (all threads) with node --cpu-prof into DIR
                      (runs it with --sandbox=none --seccomp=none: a sandboxed daemon cannot write it)
  --pace-us N         wait N µs after each reply before the next request, as a guest does (≈ 300
                      under TCG); with --depths 1 --warmup 0 --rounds 1 --scale 0.1 the daemons
                      meet their requests as cold as in a guest's short workload phases
  -h, --help          this help
`;

export class BenchUsageError extends Error {}

function positive(flag: string, value: string | undefined, integer: boolean): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new BenchUsageError(`${flag}: expected a positive ${integer ? 'integer' : 'number'}, got '${value}'`);
  }
  return n;
}

/** Parses argv (without node and script); returns null for --help. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | null {
  let quick = false;
  let rounds: number | undefined;
  let warmup = 1;
  let scale = 1;
  let depths: number[] = [1, 16];
  let only: string[] = [];
  let json: string | undefined;
  let ours: string | undefined;
  const oursArgs: string[] = [];
  let c = '/usr/lib/qemu/virtiofsd';
  let rust: string | undefined;
  let cpuProf: string | undefined;
  let paceUs = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (flag !== arg) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new BenchUsageError(`${flag}: needs a value`);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return null;
      case '--quick':
        quick = true;
        break;
      case '--rounds':
        rounds = positive(flag, value(), true);
        break;
      case '--warmup': {
        const v = value();
        warmup = v === '0' ? 0 : positive(flag, v, true);
        break;
      }
      case '--scale':
        scale = positive(flag, value(), false);
        break;
      case '--depths':
        depths = value()
          .split(',')
          .map((d) => positive(flag, d, true));
        if (depths.some((d) => d > 16)) throw new BenchUsageError('--depths: at most 16');
        break;
      case '--only':
        only = value()
          .split(',')
          .filter((s) => s !== '');
        break;
      case '--json':
        json = value();
        break;
      case '--ours':
        ours = value();
        break;
      case '--ours-arg':
        oursArgs.push(value());
        break;
      case '--c':
        c = value();
        break;
      case '--rust':
        rust = value();
        break;
      case '--cpu-prof':
        cpuProf = value();
        break;
      case '--pace-us': {
        const v = value();
        paceUs = v === '0' ? 0 : positive(flag, v, true);
        break;
      }
      default:
        throw new BenchUsageError(`unknown option ${arg}`);
    }
  }
  return {
    quick,
    rounds: rounds ?? (quick ? 3 : 5),
    warmup,
    scale,
    depths,
    only,
    json,
    ours,
    oursArgs,
    c,
    rust,
    cpuProf,
    paceUs,
  };
}
