// containerd's command line for a shim (Go `flag` syntax: `-name value`, `-name=value`, `--name`),
// then the action: `start` or `delete`; or the warm pool's `-id ID spare` (spare_shim.ts).

import { Code, ShimError } from './shim_error';

export type ShimAction = 'start' | 'delete' | 'spare' | 'version';

export interface ShimFlags {
  readonly namespace: string;
  /** containerd's gRPC socket (`-address`). */
  readonly address: string;
  /** The containerd binary (`-publish-binary`): used to learn containerd's version. */
  readonly publishBinary: string;
  readonly id: string;
  /** `-bundle` (delete; newer containerd at start too); else the working directory. */
  readonly bundle: string;
  readonly debug: boolean;
  readonly action: ShimAction;
}

const VALUE_FLAGS = new Set(['namespace', 'address', 'publish-binary', 'id', 'bundle']);
const BOOL_FLAGS = new Set(['debug', 'v', 'version']);

interface Parsed {
  readonly values: Map<string, string>;
  readonly bools: Set<string>;
  readonly positional: string[];
}

function parseArgv(argv: readonly string[]): Parsed {
  const values = new Map<string, string>();
  const bools = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (BOOL_FLAGS.has(name)) {
      bools.add(name);
    } else if (VALUE_FLAGS.has(name)) {
      const value = eq < 0 ? argv[++i] : body.slice(eq + 1);
      if (value === undefined) throw new ShimError(Code.InvalidArgument, `flag -${name} needs a value`);
      values.set(name, value);
    } else {
      throw new ShimError(Code.InvalidArgument, `unknown flag ${arg}`);
    }
  }
  return { values, bools, positional };
}

function actionOf(parsed: Parsed): ShimAction {
  if (parsed.bools.has('v') || parsed.bools.has('version')) return 'version';
  const [action, ...rest] = parsed.positional;
  if (rest.length > 0) throw new ShimError(Code.InvalidArgument, `unexpected arguments: ${rest.join(' ')}`);
  if (action === 'start' || action === 'delete' || action === 'spare') return action;
  const given = action === undefined ? 'no action' : `unknown action "${action}"`;
  throw new ShimError(Code.InvalidArgument, `${given} (expected start or delete)`);
}

export function parseFlags(argv: readonly string[], cwd: string = process.cwd()): ShimFlags {
  const parsed = parseArgv(argv);
  const action = actionOf(parsed);
  const value = (name: string, fallback = ''): string => parsed.values.get(name) ?? fallback;
  const flags: ShimFlags = {
    namespace: value('namespace'),
    address: value('address'),
    publishBinary: value('publish-binary'),
    id: value('id'),
    bundle: value('bundle', cwd),
    debug: parsed.bools.has('debug'),
    action,
  };
  if (action !== 'version') {
    // A spare is started by the pool with its own id only; containerd's flags come with its claim.
    const required =
      action === 'spare'
        ? [['id', flags.id] as const]
        : [['namespace', flags.namespace] as const, ['id', flags.id] as const];
    for (const [name, given] of required) {
      if (given === '') throw new ShimError(Code.InvalidArgument, `flag -${name} is required for ${action}`);
    }
  }
  return flags;
}
