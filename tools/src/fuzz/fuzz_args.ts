// Command line of vfs-fuzz (`make fuzz ARGS="…"`).

import { parseArgs } from 'node:util';
import { errorMessage } from '@vfs/contracts';

export interface FuzzArgs {
  readonly seed: number;
  /** The first case index. */
  readonly start: number;
  /** How many cases at most (Infinity: until the duration ends). */
  readonly cases: number;
  readonly durationMs: number;
  /** Cases between two oracle checks. */
  readonly batch: number;
  /** FUSE requests in flight at once. */
  readonly depth: number;
  readonly hangMs: number;
  readonly maxRssMib: number;
  readonly maxFds: number;
  /** The share of cases that are vhost-user sequences. */
  readonly vhostRate: number;
  /** A DAX window of this many MiB for the daemon and every front end (0: none). */
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

const OPTIONS = {
  seed: { type: 'string' },
  start: { type: 'string' },
  cases: { type: 'string' },
  duration: { type: 'string' },
  batch: { type: 'string' },
  depth: { type: 'string' },
  'vhost-rate': { type: 'string' },
  dax: { type: 'string' },
  'hang-ms': { type: 'string' },
  'max-rss-mib': { type: 'string' },
  'max-fds': { type: 'string' },
  daemon: { type: 'string' },
  'daemon-arg': { type: 'string', multiple: true },
  json: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

function parsed(argv: readonly string[]): Values {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, strict: true }).values;
  } catch (err) {
    throw new FuzzUsageError(errorMessage(err));
  }
}

/** The flag's number, or `fallback` when it is absent. */
function optional(v: Values, name: keyof Values, fallback: number, min: number, integer: boolean): number {
  const value = v[name];
  return typeof value === 'string' ? number(`--${name}`, value, min, integer) : fallback;
}

/** Parses argv (without node and script); null for --help. */
export function parseFuzzArgs(argv: readonly string[], clockSeed: number): FuzzArgs | null {
  const v = parsed(argv);
  if (v.help) return null;
  const cases = optional(v, 'cases', Number.POSITIVE_INFINITY, 1, true);
  const vhostRate = optional(v, 'vhost-rate', 0.01, 0, false);
  if (vhostRate > 1) throw new FuzzUsageError('--vhost-rate: expected a share between 0 and 1');
  const defaultDuration = Number.isFinite(cases) ? Number.POSITIVE_INFINITY : 60_000;
  return {
    seed: optional(v, 'seed', clockSeed, 0, true) >>> 0,
    start: optional(v, 'start', 0, 0, true),
    cases,
    durationMs: v.duration === undefined ? defaultDuration : number('--duration', v.duration, 0, false) * 1000,
    batch: optional(v, 'batch', 64, 1, true),
    depth: optional(v, 'depth', 16, 1, true),
    hangMs: optional(v, 'hang-ms', 5000, 1, true),
    maxRssMib: optional(v, 'max-rss-mib', 1024, 1, true),
    maxFds: optional(v, 'max-fds', 4096, 1, true),
    vhostRate,
    daxMib: optional(v, 'dax', 0, 0, true),
    daemon: v.daemon,
    daemonArgs: v['daemon-arg'] ?? [],
    json: v.json,
  };
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
