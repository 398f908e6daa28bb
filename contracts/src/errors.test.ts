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
});
