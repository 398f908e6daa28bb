import { idMapProblem, parseIdMap, parseIdMapSpec } from './id_map';

test('each virtiofsd form becomes its rules; map is both directions', () => {
  expect(parseIdMapSpec('map:1000:101000:10')).toEqual([
    { direction: 'guest-to-host', kind: 'range', from: 1000, to: 101000, count: 10, spec: 'map:1000:101000:10' },
    { direction: 'host-to-guest', kind: 'range', from: 101000, to: 1000, count: 10, spec: 'map:1000:101000:10' },
  ]);
  expect(parseIdMapSpec('guest:0:100000:65536')).toMatchObject([
    { direction: 'guest-to-host', kind: 'range', from: 0, to: 100000, count: 65536 },
  ]);
  expect(parseIdMapSpec('host:100000:0:65536')).toMatchObject([
    { direction: 'host-to-guest', kind: 'range', from: 100000, to: 0, count: 65536 },
  ]);
  expect(parseIdMapSpec('squash-guest:0:1001:4294967295')).toMatchObject([
    { direction: 'guest-to-host', kind: 'squash', from: 0, to: 1001, count: 4294967295 },
  ]);
  expect(parseIdMapSpec('squash-host:1:65534:99')).toMatchObject([
    { direction: 'host-to-guest', kind: 'squash', from: 1, to: 65534, count: 99 },
  ]);
  expect(parseIdMapSpec('forbid-guest:0:1000')).toMatchObject([
    { direction: 'guest-to-host', kind: 'forbid', from: 0, count: 1000 },
  ]);
});

test('as virtiofsd, the type is case-insensitive and any other separator works if used throughout', () => {
  expect(parseIdMapSpec('MAP/1/2/3')).toMatchObject([
    { from: 1, to: 2, count: 3 },
    { from: 2, to: 1 },
  ]);
  expect(() => parseIdMapSpec('map/1:2:3')).toThrow(
    /'map\/1:2:3': map:<guest base>:<host base>:<count> takes 3 numbers, got 1/,
  );
});

test('a malformed rule is refused with the rule and the bad token named', () => {
  const problems: [string, RegExp][] = [
    ['map', /'map': expected <type>:<ids>…, one of guest:<guest base>:<host base>:<count>, .*forbid-guest/],
    ['mapp:1:2:3', /'mapp:1:2:3': unknown type 'mapp'/],
    [':1:2:3', /unknown type ''/],
    ['squash-guest:0:1001', /takes 3 numbers, got 2/],
    ['forbid-guest:0:10:1', /forbid-guest:<guest base>:<count> takes 2 numbers, got 3/],
    ['map:1000:x:1', /'map:1000:x:1': host base 'x' is not a number from 0 to 4294967295/],
    ['map:-1:0:1', /guest base '-1' is not a number/],
    ['map:1:2:', /count '' is not a number/],
    ['guest:4294967296:0:1', /guest base '4294967296' is not a number/],
    ['map:0:0:0', /'map:0:0:0': count 0 maps no id/],
    ['forbid-guest:2001:4294967295', /guest ids \[2001, 4294969296\) goes past the last id 4294967294/],
    ['guest:0:4294967200:100', /host ids \[4294967200, 4294967300\) goes past the last id/],
    ['host:0:4294967200:100', /guest ids \[4294967200, 4294967300\) goes past/],
    ['squash-guest:0:4294967295:10', /host id 4294967295 is not an id/],
  ];
  for (const [spec, message] of problems) expect(() => parseIdMapSpec(spec)).toThrow(message);
});

test('source ranges of one direction must not overlap; the two directions are independent', () => {
  expect(
    idMapProblem(['forbid-guest:0:1000', 'map:1000:1000:1', 'forbid-guest:1001:999', 'map:2000:2000:1']),
  ).toBeNull();
  expect(idMapProblem(['map:1000:1000:1', 'forbid-guest:1001:1999', 'map:2000:2000:1'])).toBe(
    "'map:2000:2000:1': guest ids [2000, 2001) overlap [1001, 3000) of 'forbid-guest:1001:1999'",
  );
  expect(idMapProblem(['map:0:100000:10', 'squash-host:100005:0:1'])).toMatch(
    /'squash-host:100005:0:1': host ids \[100005, 100006\) overlap \[100000, 100010\) of 'map:0:100000:10'/,
  );
  // guest→host squash and host→guest ranges cover different domains.
  expect(parseIdMap(['squash-guest:0:1001:4294967295', 'host:1001:1000:1'])).toHaveLength(2);
  expect(idMapProblem([])).toBeNull();
});
