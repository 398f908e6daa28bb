import { encodeFrame, FrameDecoder, type FrameHeader, HEADER_LENGTH, MAX_PAYLOAD_LENGTH, MessageType } from './framing';

function collect(): { frames: Array<[FrameHeader, Buffer]>; oversized: FrameHeader[]; decoder: FrameDecoder } {
  const frames: Array<[FrameHeader, Buffer]> = [];
  const oversized: FrameHeader[] = [];
  const decoder = new FrameDecoder({
    frame: (header, payload) => frames.push([header, Buffer.from(payload)]),
    oversize: (header) => oversized.push(header),
  });
  return { frames, oversized, decoder };
}

describe('ttrpc framing', () => {
  it('writes the 10-byte big-endian header: length, stream id, type, flags', () => {
    const frame = encodeFrame(0x01020304, MessageType.Data, 0x5, Buffer.from('hi'));
    expect([...frame]).toEqual([0, 0, 0, 2, 1, 2, 3, 4, 3, 5, 0x68, 0x69]);
  });

  it('reassembles frames split at every byte and packed together', () => {
    const { frames, decoder } = collect();
    const bytes = Buffer.concat([
      encodeFrame(1, MessageType.Request, 0, Buffer.from('first')),
      encodeFrame(3, MessageType.Response, 0, Buffer.alloc(0)),
      encodeFrame(5, MessageType.Data, 1, Buffer.from('third')),
    ]);
    for (const byte of bytes) {
      decoder.push(Buffer.from([byte]));
    }
    expect(frames.map(([h, p]) => [h.streamId, h.type, h.flags, p.toString()])).toEqual([
      [1, MessageType.Request, 0, 'first'],
      [3, MessageType.Response, 0, ''],
      [5, MessageType.Data, 1, 'third'],
    ]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('skips an oversized payload, reports it, and carries on with the next frame', () => {
    const { frames, oversized, decoder } = collect();
    const header = Buffer.alloc(HEADER_LENGTH);
    header.writeUInt32BE(MAX_PAYLOAD_LENGTH + 1, 0);
    header.writeUInt32BE(7, 4);
    header.writeUInt8(MessageType.Request, 8);
    decoder.push(header);
    decoder.push(Buffer.alloc(MAX_PAYLOAD_LENGTH));
    decoder.push(Buffer.concat([Buffer.alloc(1), encodeFrame(9, MessageType.Request, 0, Buffer.from('ok'))]));
    expect(oversized.map((h) => [h.streamId, h.length])).toEqual([[7, MAX_PAYLOAD_LENGTH + 1]]);
    expect(frames.map(([h, p]) => [h.streamId, p.toString()])).toEqual([[9, 'ok']]);
  });

  it('counts the bytes of an unfinished frame', () => {
    const { decoder } = collect();
    decoder.push(encodeFrame(1, MessageType.Request, 0, Buffer.from('abcdef')).subarray(0, 12));
    expect(decoder.pendingBytes).toBe(2);
  });
});
