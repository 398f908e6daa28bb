// The daemon process as a whole, in single-export mode.
import { readdirSync, readlinkSync } from 'node:fs';
import { startHarness } from '../test_support/passthrough_harness';

test('single-export mode holds exactly one fd on the shared directory', () => {
  const h = startHarness({}, { sandbox: 'none' });
  try {
    h.client.init();
    const pid = h.daemon.pid as number;
    const onShare = readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === h.dir;
      } catch {
        return false; // closed while we looked
      }
    });
    expect(onShare).toHaveLength(1);
  } finally {
    h.cleanup();
  }
});
