// What malformed descriptor chains leave behind in the real daemon: a looping chain is answered with
// 0 bytes, and whatever the walk took for it is given back, so a guest that sends them on every
// head, again and again, cannot make the daemon hold memory.
import { readFileSync } from 'node:fs';
import { REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import { startHarness, type DaemonHarness } from '../../test_support/passthrough_harness';
import { DESC_SIZE, DescFlag } from './ring_layout';
import { MAX_INDIRECT_ENTRIES } from './virtqueue';

jest.setTimeout(60_000);

const QUEUE_SIZE = 1024;

let h: DaemonHarness;

beforeEach(() => {
  h = startHarness({}, { sandbox: 'none' }, { indirect: true, queueSize: QUEUE_SIZE });
  h.client.init();
});
afterEach(() => h.cleanup());

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Publishes every head pointing at `table`, kicks, and collects each one's used entry. */
function sendOnEveryHead(table: number): void {
  const f = h.frontend;
  const q = f.queue(REQUEST_QUEUE);
  const heads = q.takeDescriptors(q.freeDescriptors);
  for (const head of heads) {
    q.writeRaw({ index: head, addr: table, len: MAX_INDIRECT_ENTRIES * DESC_SIZE, flags: DescFlag.INDIRECT, next: 0 });
    q.publish(head);
  }
  f.kick(q);
  let answered = 0;
  while (answered < heads.length) {
    for (const used of f.waitUsed(REQUEST_QUEUE)) {
      expect(used.len).toBe(0);
      answered++;
    }
  }
  q.returnDescriptors(heads);
}

/** Sends chains through `table` on every head, round after round; the daemon's RSS growth in KiB. */
function rssGrowthOver(rounds: number, table: number): number {
  const pid = h.daemon.pid as number;
  h.client.getattr(1);
  const before = rssKiB(pid);
  for (let round = 0; round < rounds; round++) sendOnEveryHead(table);
  return rssKiB(pid) - before;
}

/** Still serving: the ring took every head back, and requests are answered. */
function stillServes(): void {
  h.client.getattr(1);
  h.client.releasedir(1, h.client.opendir(1).fh);
  for (let i = 0; i < 2 * QUEUE_SIZE; i++) h.client.getattr(1);
}

test('self-looping indirect tables on every head, round after round, leave the daemon RSS bounded and serving', () => {
  const ram = h.frontend.ram;
  const table = ram.alloc(MAX_INDIRECT_ENTRIES * DESC_SIZE, 16);
  const buffer = ram.alloc(64);
  const q = h.frontend.queue(REQUEST_QUEUE);
  q.writeRawIndirect(table, MAX_INDIRECT_ENTRIES, { index: 0, addr: buffer, len: 64, flags: DescFlag.NEXT, next: 0 });
  expect(rssGrowthOver(6, table)).toBeLessThan(32 << 10);
  stillServes();
});

test('indirect tables looping through all their entries on every head give back what each walk took', () => {
  const ram = h.frontend.ram;
  const table = ram.alloc(MAX_INDIRECT_ENTRIES * DESC_SIZE, 16);
  const buffer = ram.alloc(64);
  const q = h.frontend.queue(REQUEST_QUEUE);
  for (let index = 0; index < MAX_INDIRECT_ENTRIES; index++) {
    const next = (index + 1) % MAX_INDIRECT_ENTRIES;
    q.writeRawIndirect(table, MAX_INDIRECT_ENTRIES, { index, addr: buffer, len: 64, flags: DescFlag.NEXT, next });
  }
  const firstRounds = rssGrowthOver(3, table);
  const laterRounds = rssGrowthOver(3, table);
  expect(firstRounds).toBeLessThan(128 << 10);
  expect(laterRounds).toBeLessThan(16 << 10);
  stillServes();
});
