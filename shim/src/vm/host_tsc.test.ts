import { parseTscKhz } from './host_tsc';

const cpu = (flags: string, bogomips: string): string =>
  `processor\t: 0\ncpu MHz\t\t: 1200.000\nflags\t\t: ${flags}\nbogomips\t: ${bogomips}\n\nprocessor\t: 1\nbogomips\t: 1.00\n`;

describe('parseTscKhz', () => {
  it('derives the TSC kHz from bogomips (twice the TSC MHz), not from the current cpu MHz', () => {
    expect(parseTscKhz(cpu('fpu tsc constant_tsc nonstop_tsc', '5192.28'))).toBe(2596140);
  });

  it('gives up when the TSC is not invariant', () => {
    expect(parseTscKhz(cpu('fpu tsc', '5192.28'))).toBeUndefined();
  });

  it('gives up when bogomips is missing or malformed', () => {
    expect(parseTscKhz('processor\t: 0\nflags\t\t: tsc constant_tsc\n')).toBeUndefined();
    expect(parseTscKhz(cpu('tsc constant_tsc', 'n/a'))).toBeUndefined();
  });
});
