// vfs_dirents_encode and vfs_direntplus_encode (daemon/native/dirents.c): a READDIR or READDIRPLUS
// reply's records from the host's getdents64 records in one koffi call. Copied and encoded entry
// by entry in JavaScript, the first pages of a cold path ran in V8's interpreter at 1-7 µs an
// entry.
import { STATX_SIZE } from './fs';
import { daemonNative } from './native_library';

const _encode = daemonNative.func(
  'int vfs_dirents_encode(const uint8_t *src, uint32_t src_len, uint32_t pos, uint32_t len, uint8_t *out, ' +
    'uint32_t out_len, uint32_t off, uint32_t room, uint32_t *state)',
);

/** Where an encode stopped: made once, read after each call. */
export class DirentsCursor {
  /** [position after the last record encoded, its d_off low half, high half]. */
  private readonly state = new Uint32Array(3);

  /** The position in the records after the last one encoded (unchanged when none fit). */
  get pos(): number {
    return this.state[0]!;
  }

  /** The last encoded record's d_off, low half. */
  get offLo(): number {
    return this.state[1]!;
  }

  /** The last encoded record's d_off, high half. */
  get offHi(): number {
    return this.state[2]!;
  }

  /**
   * Encodes the getdents64 records src[pos, len) as fuse_dirent records into out[off, off + room),
   * stopping before the first that does not fit or is malformed. Returns the bytes written (0: the
   * first did not fit), -EIO when the first is malformed (past `len`; a name empty, unterminated or
   * over FUSE's 1024 bytes), -EINVAL for a range outside the buffers.
   */
  encode(src: Buffer, pos: number, len: number, out: Buffer, off: number, room: number): number {
    this.state[0] = pos;
    return _encode(src, src.length, pos, len, out, out.length, off, room, this.state) as number;
  }
}

const _encodePlus = daemonNative.func(
  'int vfs_direntplus_encode(const uint8_t *src, uint32_t src_len, const uint32_t *entries, uint32_t count, ' +
    'const uint8_t *stx, uint32_t stx_count, uint32_t timeout_sec, uint8_t *out, uint32_t out_len, uint32_t off, ' +
    'uint32_t room)',
);

/** u32 fields per entry: record position, statx slot, node id low and high, attr flags, uid, gid. */
const PLUS_FIELDS = 7;
/** The slot of "." and "..": a zeroed fuse_entry_out. */
const NO_NODE = 0xffff_ffff;

/**
 * The direntplus records of part of a READDIRPLUS reply, queued as the daemon decides each entry's
 * node (its inode bookkeeping stays in JavaScript), then encoded in one native call: the
 * fuse_entry_out from the lookup batch's statx results and the fuse_dirent from the getdents64
 * record. Made once; a page allocates nothing.
 */
export class DirentPlusPage {
  private readonly entries: Uint32Array;
  count = 0;

  constructor(private readonly capacity: number) {
    this.entries = new Uint32Array(capacity * PLUS_FIELDS);
  }

  /** Whether another entry can be queued. */
  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Queues "." or ".." (the record at `rec` of the getdents64 records). */
  addEmpty(rec: number): void {
    this.add(rec, NO_NODE, 0, 0, 0, 0);
  }

  /**
   * Queues the record at `rec` as node `nodeid` with the attributes of statx slot `slot`, and the
   * flags and owners the guest is to see.
   */
  add(rec: number, slot: number, nodeid: number, flags: number, uid: number, gid: number): void {
    if (this.count === this.capacity) throw new RangeError(`DirentPlusPage: ${this.capacity} entries queued already`);
    const e = this.entries;
    const at = this.count++ * PLUS_FIELDS;
    e[at] = rec;
    e[at + 1] = slot;
    e[at + 2] = nodeid >>> 0;
    e[at + 3] = Math.floor(nodeid / 0x1_0000_0000);
    e[at + 4] = flags;
    e[at + 5] = uid;
    e[at + 6] = gid;
  }

  /**
   * Encodes the queued entries from the records in src's first `srcLen` bytes and the statx
   * results in `stx` (`slots` of them) into out[off, off + room) and empties the queue. Returns the
   * bytes written, -EIO for a record that is malformed or does not fit, -EINVAL for a slot or range
   * out of bounds.
   */
  encode(
    src: Buffer,
    srcLen: number,
    stx: Buffer,
    slots: number,
    timeoutSec: number,
    out: Buffer,
    off: number,
    room: number,
  ): number {
    const n = this.count;
    this.count = 0;
    if (n === 0) return 0;
    if (srcLen > src.length || slots * STATX_SIZE > stx.length)
      throw new RangeError(`DirentPlusPage: ${srcLen} bytes of records or ${slots} statx results not given`);
    return _encodePlus(src, srcLen, this.entries, n, stx, slots, timeoutSec, out, out.length, off, room) as number;
  }
}
