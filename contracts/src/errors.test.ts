import { runInNewContext } from 'node:vm';
import { errorMessage } from './errors';

describe('errorMessage', () => {
  test('is the message of an Error, without its class name', () => {
    expect(errorMessage(new TypeError('bad fd'))).toBe('bad fd');
  });

  test('is the text of anything else thrown', () => {
    expect(errorMessage('plain string')).toBe('plain string');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
  });

  test('is the message of an error from another realm, which fails instanceof Error', () => {
    const foreign: unknown = runInNewContext('new Error("ENOENT: no such file")');
    expect(foreign instanceof Error).toBe(false);
    expect(errorMessage(foreign)).toBe('ENOENT: no such file');
  });
});
