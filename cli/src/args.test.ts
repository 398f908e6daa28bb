import { parseCommand } from './args';
import { UsageError } from './usage';

describe('parseCommand', () => {
  it.each([[[]], [['help']], [['--help']], [['-h']], [['check', '--help']], [['volume', 'add', '-h']]])(
    '%j asks for the help text',
    (argv) => {
      expect(parseCommand(argv)).toEqual({ name: 'help' });
    },
  );

  it('reads check, env and --version', () => {
    expect(parseCommand(['check'])).toEqual({ name: 'check' });
    expect(parseCommand(['env'])).toEqual({ name: 'env', json: false });
    expect(parseCommand(['env', '--json'])).toEqual({ name: 'env', json: true });
    expect(parseCommand(['--version'])).toEqual({ name: 'version' });
  });

  it('reads pool serve with or without a size, and pool status', () => {
    expect(parseCommand(['pool', 'serve'])).toEqual({ name: 'pool serve', size: undefined });
    expect(parseCommand(['pool', 'serve', '--size', '3'])).toEqual({ name: 'pool serve', size: 3 });
    expect(parseCommand(['pool', 'status', '--json'])).toEqual({ name: 'pool status', json: true });
  });

  it('reads template create, status (with --json) and remove', () => {
    expect(parseCommand(['template', 'create'])).toEqual({ name: 'template create' });
    expect(parseCommand(['template', 'status'])).toEqual({ name: 'template status', json: false });
    expect(parseCommand(['template', 'status', '--json'])).toEqual({ name: 'template status', json: true });
    expect(parseCommand(['template', 'remove'])).toEqual({ name: 'template remove' });
  });

  it.each([
    [['template'], 'template: which action? (create, status, remove)'],
    [['template', 'save'], "template: unknown action 'save' (create, status, remove)"],
    [['template', 'create', '--force'], "template create: Unknown option '--force'"],
    [['pool'], 'pool: which action? (serve, status)'],
    [['pool', 'drain'], "pool: unknown action 'drain' (serve, status)"],
    [['pool', 'serve', '--size', 'two'], 'pool serve: --size two is not a number from 0 to 64'],
    [['pool', 'serve', '--size', '65'], 'pool serve: --size 65 is not a number from 0 to 64'],
  ])('%j is a usage error naming the mistake', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(new UsageError(message));
  });

  it('reads volume add with every option, the source as given', () => {
    expect(
      parseCommand([
        'volume',
        'add',
        '--id',
        'c1',
        '--source',
        'data',
        '--target',
        '/mnt/data',
        '--readonly',
        '--namespace',
        'k8s.io',
      ]),
    ).toEqual({
      name: 'volume add',
      containerId: 'c1',
      source: 'data',
      target: '/mnt/data',
      readonly: true,
      namespace: 'k8s.io',
    });
  });

  it('defaults volume add to read-write in every namespace', () => {
    expect(parseCommand(['volume', 'add', '--id=c1', '--source=/s', '--target=/t'])).toEqual({
      name: 'volume add',
      containerId: 'c1',
      source: '/s',
      target: '/t',
      readonly: false,
      namespace: undefined,
    });
  });

  it('reads volume remove and volume list', () => {
    expect(parseCommand(['volume', 'remove', '--id', 'c1', '--target', '/t', '--namespace', 'default'])).toEqual({
      name: 'volume remove',
      containerId: 'c1',
      target: '/t',
      namespace: 'default',
    });
    expect(parseCommand(['volume', 'list'])).toEqual({
      name: 'volume list',
      containerId: undefined,
      namespace: undefined,
      json: false,
    });
    expect(parseCommand(['volume', 'list', '--id', 'c1', '--json'])).toEqual({
      name: 'volume list',
      containerId: 'c1',
      namespace: undefined,
      json: true,
    });
  });

  // parseArgs' own messages: under jest (another realm) they also carry the TypeError's code, hence `.*`.
  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['env', '--jsn'], /env: .*Unknown option '--jsn'/],
    [['check', 'now'], /check: .*positional/i],
    [['volume'], /volume: which action\? \(add, remove, list\)/],
    [['volume', 'grow'], /volume: unknown action 'grow'/],
    [['volume', 'add', '--source', '/s', '--target', '/t'], /volume add: --id is required/],
    [['volume', 'add', '--id', 'c1', '--target', '/t'], /volume add: --source is required/],
    [['volume', 'remove', '--id', 'c1'], /volume remove: --target is required/],
    [['volume', 'add', '--id', 'c1', '--source', '/s', '--target', 'data'], /--target data is not an absolute path/],
    [['volume', 'remove', '--id', '../c1', '--target', '/t'], /--id "..\/c1" is not a containerd id/],
    [['volume', 'list', '--namespace', '..'], /--namespace ".." is not a containerd namespace/],
    [['volume', 'add', '--id'], /volume add: .*Option '--id <value>' argument missing/],
  ])('%j is a usage error naming the mistake', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});
