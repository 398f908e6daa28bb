import { SpecError } from './json_check';
import { parseProcess, parseResources } from './spec_check';

const process = { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/' };

function problemAt(value: unknown): string {
  try {
    parseProcess(value);
  } catch (err) {
    if (err instanceof SpecError) return `${err.jsonPath}: ${err.problem}`;
    throw err;
  }
  throw new Error('process was accepted');
}

describe('OCI model checks', () => {
  it('reads 2^64-1 rlimits (rounded to 2^64 by JSON) and rejects larger ones', () => {
    const unlimited = '"rlimits":[{"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615}]';
    const parsed = parseProcess(JSON.parse(JSON.stringify(process).replace('"cwd":"/"', `"cwd":"/",${unlimited}`)));
    expect(parsed.rlimits?.[0]?.hard).toBe(2 ** 64);
    expect(problemAt({ ...process, rlimits: [{ type: 'RLIMIT_CORE', soft: 2 ** 65, hard: 1 }] })).toMatch(
      /^\$\.rlimits\[0\]\.soft: /,
    );
  });

  it('validates an exec process on its own', () => {
    expect(parseProcess({ user: { uid: 1, gid: 1 }, args: ['true'], cwd: '/tmp', terminal: true }).terminal).toBe(true);
    expect(() => parseProcess({ args: ['true'], cwd: '/' })).toThrow(
      'invalid spec at $.user: expected an object, got a undefined',
    );
  });

  it('validates the resources of an update, where -1 means unlimited', () => {
    expect(parseResources({ memory: { limit: -1 }, pids: { limit: 10 } })).toEqual({
      memory: { limit: -1 },
      pids: { limit: 10 },
    });
    expect(() => parseResources({ cpu: { quota: -2 } })).toThrow(
      /^invalid spec at \$\.cpu\.quota: -2 is outside \[-1, /,
    );
  });
});
