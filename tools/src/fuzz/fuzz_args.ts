// Command line of vfs-fuzz (`make fuzz ARGS="…"`).

export interface FuzzArgs {
  readonly seed: number;
  readonly start: number;
  readonly cases: number;
  readonly durationMs: number;
  readonly batch: number;
  readonly depth: number;
  readonly hangMs: number;
  readonly maxRssMib: number;
  readonly maxFds: number;
  readonly vhostRate: number;
  /** A DAX window of this many MiB (0: none). */
  readonly daxMib: number;
  readonly daemon?: string;
  readonly daemonArgs: readonly string[];
  readonly json?: string;
}

export const USAGE = `usage: vfs-fuzz [options]

Fuzzes vfs-virtiofsd through the vhost-user front-end driver: mutated FUSE requests (node ids and
handles it issued mixed with bogus ones, odd lengths, flags, extensions) and vhost-user sequences
(memory tables, ring layouts, resets, reconnects). After each batch it checks that the daemon is
alive, answered everything, stays within the RSS and fd bounds, and changed nothing outside the
share. Prints cases/s, crashes, hangs and the command that reproduces each finding.

  --seed N           run seed (default: from the clock; printed)
  --start K          first case index (default 0); a reproducer starts at the daemon's first case
  --cases N          stop after N cases (default: no limit)
  --duration S       stop after S seconds (default 60 when --cases is not given)
  --batch N          cases between oracle checks (default 64)
  --depth N          FUSE requests in flight (default 16)
  --vhost-rate F     share of vhost-user cases (default 0.01)
  --dax MIB          give the daemon a DAX window (--dax-window) and the front end its
                     back-end channel, so SETUPMAPPING/REMOVEMAPPING map for real
  --hang-ms MS       no reply within MS is a hang (default 5000)
  --max-rss-mib N    RSS bound of the daemon's process tree (default 1024)
  --max-fds N        fd bound of the daemon's process tree (default 4096)
  --daemon PATH      vfs-virtiofsd bundle (default: next to this script)
  --daemon-arg ARG   one more daemon argument (repeatable, e.g. --daemon-arg=--sandbox=none)
  --json FILE        also write the report as JSON
  -h, --help         this help
`;

export class FuzzUsageError extends Error {}

function number(flag: string, value: string, min: number, integer: boolean): number {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
    throw new FuzzUsageError(`${flag}: expected ${integer ? 'an integer' : 'a number'} >= ${min}, got '${value}'`);
  return n;
}

/** Parses argv (without node and script); null for --help. */
export function parseFuzzArgs(argv: readonly string[], clockSeed: number): FuzzArgs | null {
  const a = {
    seed: clockSeed,
    start: 0,
    cases: Number.POSITIVE_INFINITY,
    durationMs: Number.NaN,
    batch: 64,
    depth: 16,
    hangMs: 5000,
    maxRssMib: 1024,
    maxFds: 4096,
    vhostRate: 0.01,
    daxMib: 0,
    daemon: undefined as string | undefined,
    daemonArgs: [] as string[],
    json: undefined as string | undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (flag !== arg) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new FuzzUsageError(`${flag}: needs a value`);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return null;
      case '--seed':
        a.seed = number(flag, value(), 0, true) >>> 0;
        break;
      case '--start':
        a.start = number(flag, value(), 0, true);
        break;
      case '--cases':
        a.cases = number(flag, value(), 1, true);
        break;
      case '--duration':
        a.durationMs = number(flag, value(), 0, false) * 1000;
        break;
      case '--batch':
        a.batch = number(flag, value(), 1, true);
        break;
      case '--depth':
        a.depth = number(flag, value(), 1, true);
        break;
      case '--vhost-rate':
        a.vhostRate = number(flag, value(), 0, false);
        break;
      case '--dax':
        a.daxMib = number(flag, value(), 0, true);
        break;
      case '--hang-ms':
        a.hangMs = number(flag, value(), 1, true);
        break;
      case '--max-rss-mib':
        a.maxRssMib = number(flag, value(), 1, true);
        break;
      case '--max-fds':
        a.maxFds = number(flag, value(), 1, true);
        break;
      case '--daemon':
        a.daemon = value();
        break;
      case '--daemon-arg':
        a.daemonArgs.push(value());
        break;
      case '--json':
        a.json = value();
        break;
      default:
        throw new FuzzUsageError(`unknown option '${arg}'`);
    }
  }
  if (a.vhostRate > 1) throw new FuzzUsageError('--vhost-rate: expected a share between 0 and 1');
  if (Number.isNaN(a.durationMs)) a.durationMs = Number.isFinite(a.cases) ? Number.POSITIVE_INFINITY : 60_000;
  return a;
}

/** The options a reproducing command must repeat (they change which cases run and how). */
export function reproduceExtra(a: FuzzArgs): string {
  const parts: string[] = [];
  if (a.batch !== 64) parts.push(`--batch ${a.batch}`);
  if (a.vhostRate !== 0.01) parts.push(`--vhost-rate ${a.vhostRate}`);
  if (a.daxMib > 0) parts.push(`--dax ${a.daxMib}`);
  for (const d of a.daemonArgs) parts.push(`--daemon-arg=${d}`);
  return parts.map((p) => ` ${p}`).join('');
}
