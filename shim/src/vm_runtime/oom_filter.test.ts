import pino from 'pino';
import { oomFilter } from './oom_filter';

describe('oomFilter', () => {
  let clock: number;
  let published: string[];
  let warnings: { msg: string; oomContainer: string; dropped?: number }[];

  const filter = () =>
    oomFilter({
      isOurs: (id) => id === 'c1' || id === 'c2',
      publish: (id) => void published.push(id),
      log: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) }),
      windowMs: 1000,
      now: () => clock,
    });

  beforeEach(() => {
    clock = 0;
    published = [];
    warnings = [];
  });

  it('publishes a container of the sandbox once per window', () => {
    const onOom = filter();
    for (let i = 0; i < 50; i++) onOom('c1');
    onOom('c2');
    clock = 999;
    onOom('c1');
    clock = 1000;
    onOom('c1');
    expect(published).toEqual(['c1', 'c2', 'c1']);
  });

  it('drops ids of other containers, logging once per window with the count', () => {
    const onOom = filter();
    for (let i = 0; i < 100; i++) onOom(`other-pod-${i}`);
    clock = 1500;
    onOom('other-pod-x');
    expect(published).toEqual([]);
    expect(warnings.map((w) => [w.oomContainer, w.dropped])).toEqual([
      ['other-pod-0', 1],
      ['other-pod-x', 100],
    ]);
  });
});
