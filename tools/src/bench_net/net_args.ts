// Command line of `make bench-net ARGS="…"`.

import { parseArgs } from 'node:util';
import { countArg } from '../bench_common/count_arg';

export type Handler = 'runc' | 'vfs';

/** A client pod and the server pod it measures against, named client-server. */
export interface Pair {
  readonly client: Handler;
  readonly server: Handler;
}

export const PAIR_NAMES = ['runc-runc', 'vfs-vfs', 'vfs-runc', 'runc-vfs'] as const;
export type PairName = (typeof PAIR_NAMES)[number];

export interface NetArgs {
  /** Measured rounds; each runs every pair once. */
  readonly runs: number;
  /** How long each throughput run sends. */
  readonly seconds: number;
  /** Round trips of each latency run (one connection, and a connection each). */
  readonly requests: number;
  readonly pairs: readonly PairName[];
  readonly jsonPath: string | undefined;
}

export const USAGE = `usage: bench-net [--runs N (3)] [--seconds N (5)] [--requests N (500)] [--pairs ${PAIR_NAMES.join(',')}] [--json FILE]`;

export function pairOf(name: PairName): Pair {
  const [client, server] = name.split('-') as [Handler, Handler];
  return { client, server };
}

function pairsArg(value: string | undefined): PairName[] {
  if (value === undefined) return [...PAIR_NAMES];
  const names = value.split(',').filter((name) => name !== '');
  const unknown = names.filter((name) => !(PAIR_NAMES as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0)
    throw new Error(`--pairs: unknown pair ${unknown.join(', ') || '(none)'}\n${USAGE}`);
  return [...new Set(names)] as PairName[];
}

export function parseNetArgs(argv: readonly string[]): NetArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      runs: { type: 'string' },
      seconds: { type: 'string' },
      requests: { type: 'string' },
      pairs: { type: 'string' },
      json: { type: 'string' },
    },
    strict: true,
  });
  return {
    runs: countArg(values.runs, 3, 'runs', 1, USAGE),
    seconds: countArg(values.seconds, 5, 'seconds', 1, USAGE),
    requests: countArg(values.requests, 500, 'requests', 1, USAGE),
    pairs: pairsArg(values.pairs),
    jsonPath: values.json,
  };
}
