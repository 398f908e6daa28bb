// How bench-daemon and bench-guest start our daemon's Node: with the flags its shebang gives it as
// shipped (scripts/bundle.cjs), so a benchmark measures the daemon users run, plus node --cpu-prof
// when profiled. Node writes a profile on a clean exit, with system calls the daemon's seccomp
// filter kills, into a directory its namespace sandbox hides; and under that sandbox unshare, the
// daemon's parent, SIGKILLs it when signalled. A profiled daemon runs with neither.
import { closeSync, openSync, readSync } from 'node:fs';

const ENV_NODE = '#!/usr/bin/env -S node';

/** The Node flags of `program`'s `#!/usr/bin/env -S node …` line; none for any other first line. */
export function shippedNodeFlags(program: string): string[] {
  const head = Buffer.alloc(256);
  const fd = openSync(program, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const first = head.subarray(0, n).toString('utf8').split('\n')[0] ?? '';
  if (!first.startsWith(`${ENV_NODE} `)) return [];
  return first
    .slice(ENV_NODE.length)
    .split(' ')
    .filter((f) => f !== '');
}

export interface DaemonProfile {
  /** Node's flags, before the daemon's script. */
  readonly nodeFlags: readonly string[];
  /** The daemon's own flags, after its other arguments. */
  readonly daemonArgs: readonly string[];
}

export function daemonProfile(dir: string): DaemonProfile {
  return {
    nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    daemonArgs: ['--sandbox=none', '--seccomp=none'],
  };
}
