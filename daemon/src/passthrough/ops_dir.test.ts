// READDIR and READDIRPLUS: every entry once, resumable at any returned offset, lookups counted.
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { EBADF, ENOTDIR } from '../fuse/errno';
import { errnoOf, type FuseClient, type FuseDirentPlus } from '@vfs/harness/vhost_user_driver/fuse_client';
import { startHarness, type DaemonHarness, type Harness } from '../../test_support/passthrough_harness';

let h: Harness;
let c: FuseClient;

beforeEach(() => {
  h = startHarness();
  c = h.client;
  c.init();
  mkdirSync(join(h.dir, 'd'));
  for (let i = 0; i < 1000; i++) writeFileSync(join(h.dir, 'd', `entry-${i.toString().padStart(4, '0')}`), '');
});
afterEach(() => h.cleanup());

const sorted = (names: string[]): string[] => [...names].sort();

test('READDIR lists 1000 entries, plus . and .., across many replies', () => {
  const d = c.lookup(1, 'd');
  const o = c.opendir(d.nodeid);
  const all = c.readdirAll(d.nodeid, o.fh);
  expect(sorted(all.map((e) => e.name))).toEqual(sorted(['.', '..', ...readdirSync(join(h.dir, 'd'))]));
  expect(all.find((e) => e.name === 'entry-0001')?.type).toBe(8);
  expect(all.find((e) => e.name === '.')?.type).toBe(4);
  c.releasedir(d.nodeid, o.fh);
});

test('READDIRPLUS lists 1000 entries with attributes and counts a lookup for each', () => {
  const d = c.lookup(1, 'd');
  const o = c.opendir(d.nodeid);
  const all = c.readdirAll(d.nodeid, o.fh, true) as FuseDirentPlus[];
  expect(all.length).toBe(1002);
  for (const e of all) {
    if (e.name === '.' || e.name === '..') {
      expect(e.entry.nodeid).toBe(0);
      continue;
    }
    expect(e.entry.nodeid).toBeGreaterThan(1);
    expect(e.entry.attr.ino).toBe(e.ino);
  }
  const one = all.find((e) => e.name === 'entry-0042') as FuseDirentPlus;
  expect(c.lookup(d.nodeid, 'entry-0042').nodeid).toBe(one.entry.nodeid);
  c.forget(one.entry.nodeid, 1);
  c.getattr(one.entry.nodeid);
  c.forget(one.entry.nodeid, 1);
  expect(errnoOf(() => c.getattr(one.entry.nodeid))).toBe(EBADF);
  c.releasedir(d.nodeid, o.fh);
});

test('READDIRPLUS describes each entry as LOOKUP does: node, type, size, owners, times, device, validity', () => {
  const mix = join(h.dir, 'mix');
  mkdirSync(mix);
  writeFileSync(join(mix, 'file'), 'x'.repeat(5000));
  utimesSync(join(mix, 'file'), new Date(1_000_000_000_123), new Date(1_500_000_000_456));
  mkdirSync(join(mix, 'dir'));
  symlinkSync('file', join(mix, 'link'));
  // Owners and device nodes need root (make test runs as root).
  const root = process.getuid?.() === 0;
  if (root) {
    chownSync(join(mix, 'file'), 1234, 5678);
    execFileSync('mknod', [join(mix, 'null'), 'c', '1', '3']);
    execFileSync('mknod', [join(mix, 'disk'), 'b', '259', '300']);
  }
  const d = c.lookup(1, 'mix');
  const o = c.opendir(d.nodeid);
  const plus = c.readdirAll(d.nodeid, o.fh, true) as FuseDirentPlus[];
  expect(sorted(plus.map((e) => e.name))).toEqual(sorted(['.', '..', ...readdirSync(mix)]));
  for (const e of plus) {
    if (e.name === '.' || e.name === '..') continue;
    expect({ name: e.name, entry: e.entry }).toEqual({ name: e.name, entry: c.lookup(d.nodeid, e.name) });
  }
  const file = plus.find((e) => e.name === 'file')!.entry;
  expect(file.attr).toMatchObject(root ? { size: 5000, uid: 1234, gid: 5678 } : { size: 5000 });
  c.releasedir(d.nodeid, o.fh);
});

test('READDIRPLUS replies of several lookup batches and read-aheads give every entry its own node, as LOOKUP does', () => {
  const long = join(h.dir, 'long');
  mkdirSync(long);
  // ≈ 64-byte records: a 32 KiB read ahead holds ≈ 500, a 64 KiB reply ≈ 340 entries (192 bytes
  // each), looked up in 3 batches of at most 128.
  for (let i = 0; i < 700; i++) writeFileSync(join(long, `${'p'.repeat(36)}-${i}`), `${i}`);
  const d = c.lookup(1, 'long');
  const o = c.opendir(d.nodeid);
  const plus = c.readdirAll(d.nodeid, o.fh, true, 65536) as FuseDirentPlus[];
  expect(sorted(plus.map((e) => e.name))).toEqual(sorted(['.', '..', ...readdirSync(long)]));
  const nodes = new Set<number>();
  for (const e of plus) {
    if (e.name === '.' || e.name === '..') continue;
    expect(BigInt(e.entry.attr.ino)).toBe(e.ino);
    expect(e.entry.attr.size).toBe(e.name.length - 37);
    expect(c.lookup(d.nodeid, e.name).nodeid).toBe(e.entry.nodeid);
    nodes.add(e.entry.nodeid);
  }
  expect(nodes.size).toBe(700);
  c.releasedir(d.nodeid, o.fh);
});

test('resuming at an earlier offset and rewinding to 0 repeat the same entries', () => {
  const d = c.lookup(1, 'd');
  const o = c.opendir(d.nodeid);
  const first = c.readdir(d.nodeid, o.fh, 0, 1024);
  const second = c.readdir(d.nodeid, o.fh, first[first.length - 1].off, 1024);
  const again = c.readdir(d.nodeid, o.fh, first[4].off, 1024);
  const expected = c.readdir(d.nodeid, o.fh, 0, 8192);
  const fromFive = expected.slice(5).map((e) => e.name);
  expect(again.map((e) => e.name)).toEqual(fromFive.slice(0, again.length));
  expect(expected.slice(0, first.length).map((e) => e.name)).toEqual(first.map((e) => e.name));
  expect(expected.slice(first.length, first.length + second.length).map((e) => e.name)).toEqual(
    second.map((e) => e.name),
  );
  c.releasedir(d.nodeid, o.fh);
});

test('an empty directory has . and .. only; a file is not a directory', () => {
  const e = c.mkdir(1, 'empty', 0o755);
  const o = c.opendir(e.nodeid);
  expect(sorted(c.readdirAll(e.nodeid, o.fh, true).map((x) => x.name))).toEqual(['.', '..']);
  c.fsyncdir(e.nodeid, o.fh);
  c.releasedir(e.nodeid, o.fh);
  expect(errnoOf(() => c.releasedir(e.nodeid, o.fh))).toBe(EBADF);
  const f = c.lookup(c.lookup(1, 'd').nodeid, 'entry-0000');
  expect(errnoOf(() => c.opendir(f.nodeid))).toBe(ENOTDIR);
});

test('an open directory outlives a FORGET of its inode: READDIRPLUS still describes its own entries', () => {
  for (const [dir, size] of [
    ['a', 1],
    ['b', 2],
  ] as const) {
    mkdirSync(join(h.dir, dir));
    writeFileSync(join(h.dir, dir, 'same'), 'x'.repeat(size));
  }
  writeFileSync(join(h.dir, 'a', 'only-in-a'), '');
  const a = c.lookup(1, 'a');
  const o = c.opendir(a.nodeid);
  c.forget(a.nodeid, 1);
  // The fd a FORGET would have closed is the next one a lookup gets.
  c.lookup(1, 'b');
  const all = c.readdirAll(a.nodeid, o.fh, true) as FuseDirentPlus[];
  expect(sorted(all.map((e) => e.name))).toEqual(['.', '..', 'only-in-a', 'same']);
  expect(all.find((e) => e.name === 'same')?.entry.attr.size).toBe(1);
  c.releasedir(a.nodeid, o.fh);
  expect(errnoOf(() => c.opendir(a.nodeid))).toBe(EBADF);
});

test('READDIRPLUS leaves out names removed after the directory was read, shares a node among hard links, and does not follow symlinks', () => {
  const e = join(h.dir, 'e');
  mkdirSync(e);
  writeFileSync(join(e, 'h1'), 'abc');
  linkSync(join(e, 'h1'), join(e, 'h2'));
  symlinkSync('h1', join(e, 's'));
  for (let i = 0; i < 200; i++) writeFileSync(join(e, `gone-${i}`), '');
  const d = c.lookup(1, 'e');
  const o = c.opendir(d.nodeid);
  const first = c.readdirplus(d.nodeid, o.fh, 0, 1024);
  const returned = new Set(first.map((x) => x.name));
  for (let i = 0; i < 200; i++) if (!returned.has(`gone-${i}`)) unlinkSync(join(e, `gone-${i}`));
  const rest: FuseDirentPlus[] = [];
  for (let off = first[first.length - 1]!.off; ; ) {
    const page = c.readdirplus(d.nodeid, o.fh, off, 4096);
    if (page.length === 0) break;
    rest.push(...page);
    off = page[page.length - 1]!.off;
  }
  const all = [...first, ...rest];
  // What is left on the host is what the first reply returned and the names never removed.
  expect(sorted(all.map((x) => x.name))).toEqual(sorted(['.', '..', ...readdirSync(e)]));
  expect(rest.filter((x) => x.name.startsWith('gone-'))).toEqual([]);
  const byName = new Map(all.map((x) => [x.name, x.entry]));
  expect(byName.get('h1')?.nodeid).toBe(byName.get('h2')?.nodeid);
  expect(byName.get('h1')?.attr.size).toBe(3);
  expect(byName.get('s')?.attr.mode).toBe(lstatSync(join(e, 's')).mode);
  c.releasedir(d.nodeid, o.fh);
});

test('two directories read in turns, a few entries per reply, each list every entry once', () => {
  mkdirSync(join(h.dir, 'e'));
  for (let i = 0; i < 300; i++) writeFileSync(join(h.dir, 'e', `other-${i}`), '');
  const streams = ['d', 'e'].map((name) => {
    const nodeid = c.lookup(1, name).nodeid;
    return { name, nodeid, fh: c.opendir(nodeid).fh, offset: 0n, names: [] as string[], done: false };
  });
  for (let turn = 0; streams.some((s) => !s.done); turn++) {
    const s = streams[turn % 2]!;
    if (s.done) continue;
    const plus = turn % 4 < 2;
    const batch = plus ? c.readdirplus(s.nodeid, s.fh, s.offset, 512) : c.readdir(s.nodeid, s.fh, s.offset, 512);
    if (batch.length === 0) s.done = true;
    else s.offset = batch[batch.length - 1]!.off;
    s.names.push(...batch.map((e) => e.name));
  }
  for (const s of streams) expect(sorted(s.names)).toEqual(sorted(['.', '..', ...readdirSync(join(h.dir, s.name))]));
});

test('READDIR replies larger than the read-ahead buffer read on within a reply and list every entry once', () => {
  mkdirSync(join(h.dir, 'long'));
  // ≈ 224-byte records: a 32 KiB read ahead holds ≈ 146, a 64 KiB reply ≈ 290.
  for (let i = 0; i < 700; i++) writeFileSync(join(h.dir, 'long', `${'n'.repeat(196)}-${i}`), '');
  const d = c.lookup(1, 'long').nodeid;
  const o = c.opendir(d);
  const first = c.readdir(d, o.fh, 0, 65536);
  expect(first.length).toBeGreaterThan(200);
  const all = [...first];
  let offset = first[first.length - 1]!.off;
  for (;;) {
    const batch = c.readdir(d, o.fh, offset, 65536);
    if (batch.length === 0) break;
    all.push(...batch);
    offset = batch[batch.length - 1]!.off;
  }
  expect(sorted(all.map((e) => e.name))).toEqual(sorted(['.', '..', ...readdirSync(join(h.dir, 'long'))]));
  c.releasedir(d, o.fh);
});

test('directories held open and read once pin no read-ahead buffer each', () => {
  h.cleanup();
  h = startHarness({}, { sandbox: 'none' });
  c = h.client;
  c.init();
  const pid = (h as DaemonHarness).daemon.pid as number;
  const rssKib = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  mkdirSync(join(h.dir, 'd'));
  // Enough entries that each read ahead fills a 32 KiB buffer.
  for (let i = 0; i < 1500; i++) writeFileSync(join(h.dir, 'd', `entry-${i}`), '');
  const d = c.lookup(1, 'd').nodeid;
  for (let i = 0; i < 200; i++) c.readdir(d, c.opendir(d).fh, 0, 128);
  const before = rssKib();
  // 32 KiB each, as before: 94 MiB.
  for (let i = 0; i < 3000; i++) c.readdir(d, c.opendir(d).fh, 0, 128);
  expect(rssKib() - before).toBeLessThan(16 * 1024);
});
