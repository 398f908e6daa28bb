// COPY_FILE_RANGE is bounded per request: a guest's copy of any length holds a device thread no
// longer than the largest WRITE, and the guest's caller loops over the short counts.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness, type Harness } from '../../test_support/passthrough_harness';
import { MAX_COPY } from './ops_file';

const O_RDONLY = 0;
const O_RDWR = 0o2;
const O_CREAT = 0o100;
const FOUR_GIB = 2 ** 32;

let h: Harness;
let c: FuseClient;

beforeEach(() => {
  h = startHarness();
  c = h.client;
  c.init();
});
afterEach(() => h.cleanup());

test('a 4 GiB copy request copies at most MAX_COPY, and looping over short counts copies it all', () => {
  const data = randomBytes(8 * MAX_COPY + 123);
  writeFileSync(join(h.dir, 'src'), data);
  const src = c.lookup(1, 'src');
  const from = c.open(src.nodeid, O_RDONLY);
  const to = c.create(1, 'dst', O_RDWR | O_CREAT, 0o644);
  const first = c.copyFileRange(src.nodeid, from.fh, 0, to.entry.nodeid, to.fh, 0, FOUR_GIB);
  expect(first).toBe(MAX_COPY);
  let done = first;
  for (;;) {
    const n = c.copyFileRange(src.nodeid, from.fh, done, to.entry.nodeid, to.fh, done, FOUR_GIB - done);
    expect(n).toBeLessThanOrEqual(MAX_COPY);
    if (n === 0) break;
    done += n;
  }
  expect(done).toBe(data.length);
  expect(readFileSync(join(h.dir, 'dst')).equals(data)).toBe(true);
});
