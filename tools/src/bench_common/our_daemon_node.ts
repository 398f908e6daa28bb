// How bench-daemon and bench-guest start our daemon's Node: with the flags its shebang gives it as
// shipped (scripts/bundle.cjs), so a benchmark measures the daemon users run, plus node --cpu-prof
// when profiled. Node writes a profile on a clean exit, with system calls the daemon's seccomp
// filter kills, into a directory its namespace sandbox hides; and under that sandbox unshare, the
// daemon's parent, SIGKILLs it when signalled. A profiled daemon runs with neither.
import { closeSync, openSync, readSync } from 'node:fs';

const ENV_SPLIT = '#!/usr/bin/env -S ';
const ENV = '/usr/bin/env';

/** How a shipped program's shebang starts Node: the variables it drops (env -u) and Node's flags. */
export interface ShippedNode {
  readonly unsetEnv: readonly string[];
  readonly flags: readonly string[];
}

const NONE: ShippedNode = { unsetEnv: [], flags: [] };

/** Parses `program`'s `#!/usr/bin/env -S [-u VAR]… node …` line; nothing for any other first line. */
export function shippedNode(program: string): ShippedNode {
  const head = Buffer.alloc(256);
  const fd = openSync(program, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const first = head.subarray(0, n).toString('utf8').split('\n')[0] ?? '';
  if (!first.startsWith(ENV_SPLIT)) return NONE;
  const words = first
    .slice(ENV_SPLIT.length)
    .split(' ')
    .filter((w) => w !== '');
  const unsetEnv: string[] = [];
  let i = 0;
  for (; words[i] === '-u' && words[i + 1] !== undefined; i += 2) unsetEnv.push(words[i + 1]!);
  return words[i] === 'node' ? { unsetEnv, flags: words.slice(i + 1) } : NONE;
}

/** The command that runs `script` on this Node as its shebang would, with `extraFlags` for Node. */
export function nodeCommand(
  script: string,
  shipped: ShippedNode,
  extraFlags: readonly string[] = [],
): [string, string[]] {
  const node = [...shipped.flags, ...extraFlags, script];
  if (shipped.unsetEnv.length === 0) return [process.execPath, node];
  return [ENV, [...shipped.unsetEnv.flatMap((v) => ['-u', v]), process.execPath, ...node]];
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
