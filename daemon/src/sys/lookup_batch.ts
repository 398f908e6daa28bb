// vfs_lookup_batch (daemon/native/lookup_batch.c): a READDIRPLUS page's openat + statx (+
// name_to_handle_at) in one koffi call rather than 2-3 calls per entry, each crossing costing
// 0.5-2.5 µs (LOOKUP uses it for one name).
import { tryClose } from './fd';
import { FILE_HANDLE_SIZE } from './file_handle';
import { STATX_SIZE } from './fs';
import { daemonNative } from './native_library';

/** Open each name O_PATH|O_NOFOLLOW and stat the fd; without it, statx by name only. */
export const LB_OPEN = 1;
/** With LB_OPEN: the file handle of each fd on the mount given to run(). */
export const LB_HANDLES = 2;
/** Names per call: a 4 KiB page holds ~25 entries, a 128 KiB one ≤ 819 (in several calls). */
export const LOOKUP_BATCH_MAX = 128;
/** NAME_MAX plus the NUL. */
const NAME_ROOM = 256;

const _lookupBatch = daemonNative.func(
  'int vfs_lookup_batch(int dirfd, const char *names, uint32_t names_len, void *offsets, uint32_t count, ' +
    'uint32_t capacity, uint32_t flags, uint32_t mask, uint64_t handle_mnt_id, void *result, void *stx, ' +
    'void *handles, void *handle_len)',
);

/** Names queued for one call and its results, in buffers made once: a run allocates nothing. */
export class LookupBatch {
  /** Names queued so far. */
  count = 0;
  /** Results taken so far (take()). */
  private taken = 0;
  /** The flags of the last run (LB_OPEN: results are fds the caller owns). */
  flags = 0;
  /** Per name: the fd (LB_OPEN) or 0, or -errno. */
  readonly result: Int32Array;
  /** Per name: the file handle's length (header included), 0 for none, or -errno. */
  readonly handleLen: Int32Array;
  /** Per name: its statx result. */
  readonly stat: DataView[] = [];
  /** Per name: its struct file_handle. */
  readonly handle: Buffer[] = [];
  private readonly names: Buffer;
  private readonly offsets: Uint32Array;
  private readonly handles: Buffer;
  private namesEnd = 0;

  constructor(
    /** Names per run. */
    readonly capacity = LOOKUP_BATCH_MAX,
    /** Where the statx results go (capacity × STATX_SIZE bytes, slot i for name i): a caller's own stat buffer. */
    readonly stx = Buffer.alloc(capacity * STATX_SIZE),
  ) {
    if (stx.length < capacity * STATX_SIZE)
      throw new RangeError(`LookupBatch: ${stx.length} bytes for ${capacity} statx results`);
    this.result = new Int32Array(capacity);
    this.handleLen = new Int32Array(capacity);
    this.names = Buffer.alloc(capacity * NAME_ROOM);
    this.offsets = new Uint32Array(capacity);
    this.handles = Buffer.alloc(capacity * FILE_HANDLE_SIZE);
    for (let i = 0; i < capacity; i++) {
      this.stat.push(new DataView(this.stx.buffer, this.stx.byteOffset + i * STATX_SIZE, STATX_SIZE));
      this.handle.push(this.handles.subarray(i * FILE_HANDLE_SIZE, (i + 1) * FILE_HANDLE_SIZE));
    }
  }

  /** Makes `from` (a statx result of STATX_SIZE bytes) slot i's, for a name looked up apart. */
  setStat(i: number, from: DataView): void {
    const src = new Uint8Array(from.buffer, from.byteOffset, STATX_SIZE);
    this.stx.set(src, i * STATX_SIZE);
  }

  /** Empties the queue; fds of results not taken are the caller's to close first (discard). */
  clear(): void {
    this.count = 0;
    this.taken = 0;
    this.namesEnd = 0;
    this.flags = 0;
  }

  /** The index of the next result, in queue order. */
  take(): number {
    return this.taken++;
  }

  /** Closes the fds of the results not taken (a reply ended early) and empties the queue. */
  discard(): void {
    // O_PATH fds have no data to write back: close(2) can only fail on a bad fd.
    if ((this.flags & LB_OPEN) !== 0)
      for (let i = this.taken; i < this.count; i++) if (this.result[i]! >= 0) tryClose(this.result[i]!);
    this.clear();
  }

  /**
   * Queues the `len` bytes at `src[start]` as a name (copied, NUL added); false when full. The
   * library checks the name itself (length, no "/", not "." or "..").
   */
  add(src: Uint8Array, start: number, len: number): boolean {
    if (this.count === this.capacity || len < 0 || this.namesEnd + len + 1 > this.names.length) return false;
    const dst = this.namesEnd;
    // A byte loop: names are short, and Buffer#copy of a range allocates a view.
    for (let i = 0; i < len; i++) this.names[dst + i] = src[start + i]!;
    this.names[dst + len] = 0;
    this.offsets[this.count++] = dst;
    this.namesEnd = dst + len + 1;
    return true;
  }

  /**
   * Looks the queued names up under `dirfd` with `flags` and statx `mask`; file handles are made
   * only for inodes on mount `handleMntId`. Fills result/stat/handleLen; 0 or -errno.
   */
  run(dirfd: number, flags: number, mask: number, handleMntId: number): number {
    this.flags = flags;
    const r = _lookupBatch(
      dirfd,
      this.names,
      this.namesEnd,
      this.offsets,
      this.count,
      this.capacity,
      flags,
      mask,
      handleMntId,
      this.result,
      this.stx,
      this.handles,
      this.handleLen,
    ) as number;
    return Math.min(r, 0);
  }
}
