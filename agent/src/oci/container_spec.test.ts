import { SpecError } from '@vfs/contracts';
import { parseSpec, parseSpecJson } from './container_spec';

const valid = {
  ociVersion: '1.1.0',
  process: { user: { uid: 0, gid: 0 }, args: ['sh'], env: ['PATH=/bin'], cwd: '/' },
  root: { path: 'rootfs', readonly: true },
  hostname: 'h',
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
  linux: {
    namespaces: [{ type: 'pid' }, { type: 'network', path: '/proc/1/ns/net' }],
    resources: { memory: { limit: -1 }, pids: { limit: 10 } },
    sysctl: { 'net.ipv4.ip_forward': '1' },
  },
  annotations: { ignored: 'yes' },
};

function problemAt(value: unknown): string {
  try {
    parseSpec(value);
  } catch (err) {
    if (err instanceof SpecError) return `${err.jsonPath}: ${err.problem}`;
    throw err;
  }
  throw new Error('spec was accepted');
}

function withProcess(patch: Record<string, unknown>): unknown {
  return { ...valid, process: { ...valid.process, ...patch } };
}

describe('container spec validator', () => {
  it('accepts a valid spec and keeps only the fields it consumes', () => {
    const spec = parseSpec(valid);
    expect(spec.process.args).toEqual(['sh']);
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
    expect(spec.linux?.namespaces?.[1]).toEqual({ type: 'network', path: '/proc/1/ns/net' });
    expect(spec.linux?.sysctl).toEqual({ 'net.ipv4.ip_forward': '1' });
    expect('annotations' in spec).toBe(false);
  });

  it('names the JSON path of the problem', () => {
    expect(problemAt(withProcess({ args: 'sh' }))).toBe('$.process.args: expected an array, got a string');
    expect(problemAt(withProcess({ args: [] }))).toBe('$.process.args: expected at least 1 element(s)');
    expect(problemAt(withProcess({ args: ['sh', 3] }))).toBe('$.process.args[1]: expected a string, got a number');
    expect(problemAt(withProcess({ cwd: 'relative' }))).toBe(
      '$.process.cwd: expected an absolute path, got "relative"',
    );
    expect(problemAt(withProcess({ env: ['NOVALUE'] }))).toBe('$.process.env[0]: expected KEY=value, got "NOVALUE"');
    expect(problemAt(withProcess({ user: { uid: -1, gid: 0 } }))).toBe(
      '$.process.user.uid: -1 is outside [0, 4294967295]',
    );
    expect(problemAt({ ...valid, linux: { namespaces: [{ type: 'time' }] } })).toMatch(
      /^\$\.linux\.namespaces\[0\]\.type: expected one of pid/,
    );
    expect(problemAt({ ...valid, linux: { sysctl: { 'a.b': 1 } } })).toBe(
      '$.linux.sysctl["a.b"]: expected a string, got a number',
    );
    expect(problemAt({ ...valid, process: undefined })).toBe('$.process: expected an object, got a undefined');
    expect(problemAt(null)).toBe('$: expected an object, got null');
  });

  it('rejects NUL bytes, which cannot cross into syscalls', () => {
    expect(problemAt(withProcess({ args: ['a\0b'] }))).toBe('$.process.args[0]: string contains a NUL byte');
  });

  it('reports JSON syntax errors at $', () => {
    expect(() => parseSpecJson('{')).toThrow(/^invalid spec at \$: not JSON/);
  });
});
