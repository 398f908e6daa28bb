import { parseBootMarks } from './guest_details';

describe('parseBootMarks', () => {
  it('reads "<name> <uptime>" lines as nanoseconds since boot, skipping anything else', () => {
    expect(parseBootMarks('start 1.03\nmodules 1.20\n\nagent 1.24\ngarbage\n')).toEqual([
      { name: 'start', sinceBootNs: 1_030_000_000 },
      { name: 'modules', sinceBootNs: 1_200_000_000 },
      { name: 'agent', sinceBootNs: 1_240_000_000 },
    ]);
  });
});
