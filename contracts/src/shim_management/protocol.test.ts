import { ManagementProtocolError, parseManagementRequest } from './protocol';

const line = (o: object): string => JSON.stringify(o);

describe('management protocol', () => {
  test('volume-add takes absolute paths and defaults to read-write', () => {
    expect(
      parseManagementRequest(line({ id: 1, op: 'volume-add', containerId: 'c', source: '/src', target: '/data' })),
    ).toEqual({
      id: 1,
      op: 'volume-add',
      containerId: 'c',
      source: '/src',
      target: '/data',
      readonly: false,
    });
  });

  test('volume-list without a container lists the whole sandbox', () => {
    expect(parseManagementRequest(line({ id: 2, op: 'volume-list' }))).toEqual({
      id: 2,
      op: 'volume-list',
      containerId: '',
    });
  });

  test.each([
    [
      { id: 1, op: 'volume-add', containerId: 'c', source: 'rel', target: '/d' },
      /field 'source': "rel" is not an absolute path/,
    ],
    [{ id: 1, op: 'volume-add', containerId: '', source: '/s', target: '/d' }, /field 'containerId': empty/],
    [{ id: 1, op: 'volume-remove', containerId: 'c' }, /field 'target': expected string/],
    [{ id: 1, op: 'volume-grow' }, /unknown op 'volume-grow'/],
    [{ op: 'volume-list' }, /field 'id': expected number/],
  ])('%j is refused', (request, message) => {
    expect(() => parseManagementRequest(line(request))).toThrow(ManagementProtocolError);
    expect(() => parseManagementRequest(line(request))).toThrow(message);
  });

  test('a line that is not JSON is refused with the parser’s words', () => {
    expect(() => parseManagementRequest('{nope')).toThrow(/not JSON/);
  });
});
