import { FuzzUsageError, parseFuzzArgs, reproduceExtra } from './fuzz_args';
import { caseRng } from './prng';

test('without --cases or --duration a run lasts 60 s; with --cases only, until the cases are done', () => {
  expect(parseFuzzArgs([], 7)).toMatchObject({
    seed: 7,
    start: 0,
    durationMs: 60_000,
    cases: Number.POSITIVE_INFINITY,
  });
  expect(parseFuzzArgs(['--cases', '100'], 7)).toMatchObject({ cases: 100, durationMs: Number.POSITIVE_INFINITY });
  expect(parseFuzzArgs(['--seed=1', '--cases', '100000', '--duration', '60'], 7)).toMatchObject({
    seed: 1,
    cases: 100_000,
    durationMs: 60_000,
  });
  expect(parseFuzzArgs(['--help'], 7)).toBeNull();
});

test('a reproducer repeats the options that change the cases, and only those', () => {
  const a = parseFuzzArgs(['--batch', '8', '--depth', '4', '--daemon-arg=--sandbox=none', '--json', 'x.json'], 7)!;
  expect(reproduceExtra(a)).toBe(' --batch 8 --daemon-arg=--sandbox=none');
});

test('bad values and unknown options are usage errors', () => {
  expect(() => parseFuzzArgs(['--cases', '0'], 7)).toThrow(FuzzUsageError);
  expect(() => parseFuzzArgs(['--vhost-rate', '2'], 7)).toThrow(FuzzUsageError);
  expect(() => parseFuzzArgs(['--batch'], 7)).toThrow(FuzzUsageError);
  expect(() => parseFuzzArgs(['--frobnicate'], 7)).toThrow(FuzzUsageError);
});

test('a case generator depends only on (seed, case index)', () => {
  const draw = (seed: number, index: number): number[] => {
    const rng = caseRng(seed, index);
    return [rng.u32(), rng.u32(), rng.below(10)];
  };
  expect(draw(1, 42)).toEqual(draw(1, 42));
  expect(draw(1, 42)).not.toEqual(draw(1, 43));
  expect(draw(1, 42)).not.toEqual(draw(2, 42));
});
