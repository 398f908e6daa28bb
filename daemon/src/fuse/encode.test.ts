// The two encoders of a fuse_entry_out agree byte for byte: encodeEntry (LOOKUP, CREATE, MKDIR …)
// and the native one READDIRPLUS pages use (daemon/native/dirents.c), from the same statx result,
// over every field (a statx of varied bytes, so no field can take another's place unnoticed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryClose } from '../sys/fd';
import { AT_FDCWD, cPath, getdents64, O_DIRECTORY, O_RDONLY, openat, STATX_SIZE, STX } from '../sys/fs';
import { DirentPlusPage } from '../sys/dirents';
import { DIRENT_HEADER_SIZE, ENTRY_OUT_SIZE } from './abi';
import { encodeEntry } from './encode';

/** A statx result whose every byte differs from its neighbours, with a mode and times in range. */
function patternedStatx(seed: number): Buffer {
  const stx = Buffer.alloc(STATX_SIZE);
  for (let i = 0; i < STATX_SIZE; i++) stx[i] = (i * 7 + seed) & 0xff;
  stx.writeUInt16LE(0o100644, STX.mode);
  return stx;
}

test('the native READDIRPLUS entry is the bytes encodeEntry writes, node id above 2^32, owners, flags and times', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-encode-'));
  const records = Buffer.alloc(4096);
  const fd = openat(AT_FDCWD, cPath(dir), O_RDONLY | O_DIRECTORY);
  const len = getdents64(fd, records, records.length);
  tryClose(fd);
  rmSync(dir, { recursive: true });
  expect(len).toBeGreaterThan(0);
  for (const [seed, nodeid, flags, timeout] of [
    [3, 42, 0, 1],
    [91, 0x1_2345_6789, 0x6, 86400],
  ] as const) {
    const stx = patternedStatx(seed);
    const view = new DataView(stx.buffer, stx.byteOffset, STATX_SIZE);
    const uid = 100_000 + seed;
    const gid = 200_000 + seed;
    const js = Buffer.alloc(ENTRY_OUT_SIZE, 0xee);
    encodeEntry(new DataView(js.buffer, js.byteOffset, js.length), 0, nodeid, timeout, view, flags, {
      guestUid: () => uid,
      guestGid: () => gid,
    });
    const page = new DirentPlusPage(1);
    page.add(0, 0, nodeid, flags, uid, gid);
    const out = Buffer.alloc(512, 0xee);
    const w = page.encode(records, len, stx, 1, timeout, out, 0, out.length);
    expect(w).toBeGreaterThanOrEqual(ENTRY_OUT_SIZE + DIRENT_HEADER_SIZE);
    expect(out.subarray(0, ENTRY_OUT_SIZE).toString('hex')).toBe(js.toString('hex'));
  }
});
