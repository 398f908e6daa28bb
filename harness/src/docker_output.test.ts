import { demuxOutput } from './docker_output';

function frame(stream: number, text: string): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(Buffer.byteLength(text), 4);
  return Buffer.concat([header, Buffer.from(text)]);
}

describe('demuxOutput', () => {
  it('splits interleaved frames into stdout and stderr, each in order', () => {
    const data = Buffer.concat([frame(1, 'a'), frame(2, 'x'), frame(1, 'b\n'), frame(2, 'y\n')]);
    expect(demuxOutput(data)).toEqual({ stdout: 'ab\n', stderr: 'xy\n' });
  });

  it('refuses a truncated frame and a stream that is not multiplexed', () => {
    expect(() => demuxOutput(frame(1, 'abc').subarray(0, 10))).toThrow(/truncated/);
    expect(() => demuxOutput(Buffer.from('plain terminal output'))).toThrow(/not a multiplexed Docker stream/);
  });
});
