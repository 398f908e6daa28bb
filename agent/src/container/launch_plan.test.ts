import { encodePlan, step } from './launch_plan';
import { parseLauncherLine } from './launcher_protocol';

describe('launch plan encoding', () => {
  it('writes a length header and NUL-terminated tokens', () => {
    const plan = encodePlan([step('ns', 0x20000), step('arg', 'a b'), step('spawn'), step('exec', 'sh')]);
    const body = 'ns\x00131072\x00arg\x00a b\x00spawn\x00exec\x00sh\x00';
    expect(plan.toString()).toBe(`${Buffer.byteLength(body)}\n${body}`);
  });

  it('counts bytes, not characters', () => {
    const plan = encodePlan([step('arg', 'é')]).toString();
    expect(plan.startsWith('7\n')).toBe(true);
  });

  it('refuses a NUL inside an argument', () => {
    expect(() => encodePlan([step('arg', 'a\0b')])).toThrow(/NUL/);
  });
});

describe('launcher status lines', () => {
  it('parses every event', () => {
    expect(parseLauncherLine('pipes 7 8 10')).toEqual({ kind: 'pipes', stdin: 7, stdout: 8, stderr: 10 });
    expect(parseLauncherLine('console 42')).toEqual({ kind: 'console', pid: 42 });
    expect(parseLauncherLine('ready 42')).toEqual({ kind: 'ready', pid: 42 });
    expect(parseLauncherLine('started 42')).toEqual({ kind: 'started', pid: 42 });
    expect(parseLauncherLine('exit 143')).toEqual({ kind: 'exit', status: 143 });
    expect(parseLauncherLine('done')).toEqual({ kind: 'done' });
    expect(parseLauncherLine('error 2 exec /x: No such file or directory')).toEqual({
      kind: 'error',
      errno: 2,
      message: 'exec /x: No such file or directory',
    });
  });

  it('rejects malformed lines', () => {
    expect(() => parseLauncherLine('exit x')).toThrow(/malformed/);
    expect(() => parseLauncherLine('pipes 1 2')).toThrow(/malformed/);
    expect(() => parseLauncherLine('hello')).toThrow(/unknown/);
  });
});
