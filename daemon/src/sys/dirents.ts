// vfs_dirents_encode (daemon/native/dirents.c): a READDIR reply's fuse_dirent records from the
// host's getdents64 records in one koffi call. Copied entry by entry in JavaScript, the first
// pages of a cold path ran in V8's interpreter at 1-7 µs an entry.
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
