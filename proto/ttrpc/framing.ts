// ttrpc's wire framing: a 10-byte header (u32 BE payload length, u32 BE stream id, u8 message
// type, u8 flags) and then the payload. Facts from containerd/ttrpc channel.go and PROTOCOL.md.

export const HEADER_LENGTH = 10;
/** Payloads above 4 MiB are refused by every ttrpc peer. */
export const MAX_PAYLOAD_LENGTH = 4 << 20;

export enum MessageType {
  Request = 0x1,
  Response = 0x2,
  Data = 0x3,
}

/** Flag bits; their meaning depends on the message type (see PROTOCOL.md). */
export const FLAG_REMOTE_CLOSED = 0x1;
export const FLAG_REMOTE_OPEN = 0x2;
export const FLAG_NO_DATA = 0x4;

export interface FrameHeader {
  readonly length: number;
  readonly streamId: number;
  /** Kept as a number: a type this code does not know must still be reportable. */
  readonly type: number;
  readonly flags: number;
}

export function encodeFrame(streamId: number, type: MessageType, flags: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(streamId, 4);
  frame.writeUInt8(type, 8);
  frame.writeUInt8(flags, 9);
  frame.set(payload, HEADER_LENGTH);
  return frame;
}

function decodeHeader(bytes: Buffer): FrameHeader {
  return {
    length: bytes.readUInt32BE(0),
    streamId: bytes.readUInt32BE(4),
    type: bytes.readUInt8(8),
    flags: bytes.readUInt8(9),
  };
}

export interface FrameSink {
  frame(header: FrameHeader, payload: Buffer): void;
  /** The payload was over MAX_PAYLOAD_LENGTH: it is skipped, the stream should get an error. */
  oversize(header: FrameHeader): void;
}

/**
 * Cuts a byte stream into frames. Chunks are kept as received and joined once per frame, so a
 * 4 MiB payload arriving in 64 KiB pieces is copied once, not once per piece.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: FrameHeader | undefined;
  private discardRemaining = 0;

  constructor(private readonly sink: FrameSink) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.step()) {
      // each step consumes one header, one payload or one discarded run
    }
  }

  /** Bytes of an unfinished frame: non-zero when a stream ends mid-frame. */
  get pendingBytes(): number {
    return this.buffered + this.discardRemaining;
  }

  private step(): boolean {
    if (this.discardRemaining > 0) {
      const n = Math.min(this.discardRemaining, this.buffered);
      this.take(n);
      this.discardRemaining -= n;
      return this.discardRemaining === 0;
    }
    if (this.header === undefined) {
      return this.readHeader();
    }
    if (this.buffered < this.header.length) {
      return false;
    }
    const header = this.header;
    this.header = undefined;
    this.sink.frame(header, this.take(header.length));
    return true;
  }

  private readHeader(): boolean {
    if (this.buffered < HEADER_LENGTH) {
      return false;
    }
    const header = decodeHeader(this.take(HEADER_LENGTH));
    if (header.length > MAX_PAYLOAD_LENGTH) {
      this.discardRemaining = header.length;
      this.sink.oversize(header);
    } else {
      this.header = header;
    }
    return true;
  }

  private take(n: number): Buffer {
    if (n === 0) {
      return Buffer.alloc(0);
    }
    const first = this.chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) {
        this.chunks.shift();
      } else {
        this.chunks[0] = first.subarray(n);
      }
    } else {
      const joined = Buffer.concat(this.chunks, this.buffered);
      out = joined.subarray(0, n);
      this.chunks = n < joined.length ? [joined.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}
