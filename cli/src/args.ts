// vfs-runtime's command line: a command word (`volume` takes an action word too), then the
// command's options, parsed strictly by node:util parseArgs so a typo is an error.
import { isAbsolute } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { errorMessage } from '@vfs/contracts';
import { UsageError } from './usage';

export type VolumeCommand =
  | {
      readonly name: 'volume add';
      readonly containerId: string;
      /** As given: relative to the working directory or absolute. */
      readonly source: string;
      readonly target: string;
      readonly readonly: boolean;
      readonly namespace?: string;
    }
  | {
      readonly name: 'volume remove';
      readonly containerId: string;
      readonly target: string;
      readonly namespace?: string;
    }
  | {
      readonly name: 'volume list';
      readonly containerId?: string;
      readonly namespace?: string;
      readonly json: boolean;
    };

export type PoolCommand =
  | { readonly name: 'pool serve'; readonly size?: number }
  | { readonly name: 'pool status'; readonly json: boolean };

export type TemplateCommand =
  | { readonly name: 'template create' }
  | { readonly name: 'template status'; readonly json: boolean }
  | { readonly name: 'template remove' };

export type Command =
  | { readonly name: 'help' }
  | { readonly name: 'version' }
  | { readonly name: 'check' }
  | { readonly name: 'env'; readonly json: boolean }
  | VolumeCommand
  | PoolCommand
  | TemplateCommand;

const HELP = { help: { type: 'boolean', short: 'h' } } as const;
const STRING = { type: 'string' } as const;
const FLAG = { type: 'boolean' } as const;

/** The options of `command`; parseArgs' own words on a mistake. */
function options<const O extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], spec: O) {
  try {
    return parseArgs({ args, options: { ...HELP, ...spec }, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${command}: ${errorMessage(err)}`);
  }
}

function required(command: string, flag: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new UsageError(`${command}: --${flag} is required`);
  return value;
}

/** Container ids and namespaces name directories under the run dir: one path component each. */
function pathComponent(command: string, flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === '' || value === '.' || value === '..' || value.includes('/') || value.includes('\0'))
    throw new UsageError(`${command}: --${flag} ${JSON.stringify(value)} is not a containerd ${flag}`);
  return value;
}

/** The target is a path inside the container, where no working directory applies. */
function containerPath(command: string, value: string): string {
  if (!isAbsolute(value))
    throw new UsageError(
      `${command}: --target ${value} is not an absolute path (it names a path inside the container)`,
    );
  return value;
}

function parseVolume(args: string[]): Command {
  const [action, ...rest] = args;
  const command = `volume ${action}`;
  switch (action) {
    case 'add': {
      const v = options(command, rest, {
        id: STRING,
        source: STRING,
        target: STRING,
        readonly: FLAG,
        namespace: STRING,
      });
      if (v.help === true) return { name: 'help' };
      return {
        name: 'volume add',
        containerId: required(command, 'id', pathComponent(command, 'id', v.id)),
        source: required(command, 'source', v.source),
        target: containerPath(command, required(command, 'target', v.target)),
        readonly: v.readonly === true,
        namespace: pathComponent(command, 'namespace', v.namespace),
      };
    }
    case 'remove': {
      const v = options(command, rest, { id: STRING, target: STRING, namespace: STRING });
      if (v.help === true) return { name: 'help' };
      return {
        name: 'volume remove',
        containerId: required(command, 'id', pathComponent(command, 'id', v.id)),
        target: containerPath(command, required(command, 'target', v.target)),
        namespace: pathComponent(command, 'namespace', v.namespace),
      };
    }
    case 'list': {
      const v = options(command, rest, { id: STRING, namespace: STRING, json: FLAG });
      if (v.help === true) return { name: 'help' };
      return {
        name: 'volume list',
        containerId: pathComponent(command, 'id', v.id),
        namespace: pathComponent(command, 'namespace', v.namespace),
        json: v.json === true,
      };
    }
    case undefined:
      throw new UsageError('volume: which action? (add, remove, list)');
    default:
      throw new UsageError(`volume: unknown action '${action}' (add, remove, list)`);
  }
}

function poolSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const size = Number(value);
  if (!/^\d+$/.test(value) || size > 64)
    throw new UsageError(`pool serve: --size ${value} is not a number from 0 to 64`);
  return size;
}

function parsePool(args: string[]): Command {
  const [action, ...rest] = args;
  const command = `pool ${action}`;
  switch (action) {
    case 'serve': {
      const v = options(command, rest, { size: STRING });
      return v.help === true ? { name: 'help' } : { name: 'pool serve', size: poolSize(v.size) };
    }
    case 'status': {
      const v = options(command, rest, { json: FLAG });
      return v.help === true ? { name: 'help' } : { name: 'pool status', json: v.json === true };
    }
    case undefined:
      throw new UsageError('pool: which action? (serve, status)');
    default:
      throw new UsageError(`pool: unknown action '${action}' (serve, status)`);
  }
}

function parseTemplate(args: string[]): Command {
  const [action, ...rest] = args;
  const command = `template ${action}`;
  switch (action) {
    case 'create':
    case 'remove':
      return options(command, rest, {}).help === true ? { name: 'help' } : { name: `template ${action}` };
    case 'status': {
      const v = options(command, rest, { json: FLAG });
      return v.help === true ? { name: 'help' } : { name: 'template status', json: v.json === true };
    }
    case undefined:
      throw new UsageError('template: which action? (create, status, remove)');
    default:
      throw new UsageError(`template: unknown action '${action}' (create, status, remove)`);
  }
}

/** Throws UsageError naming the mistake. */
export function parseCommand(argv: readonly string[]): Command {
  const [word, ...rest] = argv;
  switch (word) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { name: 'help' };
    case '--version':
      return { name: 'version' };
    case 'check':
      return options(word, rest, {}).help === true ? { name: 'help' } : { name: 'check' };
    case 'env': {
      const v = options(word, rest, { json: FLAG });
      return v.help === true ? { name: 'help' } : { name: 'env', json: v.json === true };
    }
    case 'volume':
      return parseVolume(rest);
    case 'pool':
      return parsePool(rest);
    case 'template':
      return parseTemplate(rest);
    default:
      throw new UsageError(`unknown command '${word}'`);
  }
}
