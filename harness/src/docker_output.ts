// The output of a container or exec without a terminal as the Docker API sends it (logs, attach,
// exec start): one stream of frames, each an 8-byte header (stream: 1 stdout, 2 stderr; 3 zero
// bytes; big-endian u32 length) and that many bytes.

export interface DemuxedOutput {
  readonly stdout: string;
  readonly stderr: string;
}

const HEADER_BYTES = 8;

export function demuxOutput(data: Buffer): DemuxedOutput {
  const parts: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  let offset = 0;
  while (offset + HEADER_BYTES <= data.length) {
    const stream = data.readUInt8(offset);
    const length = data.readUInt32BE(offset + 4);
    if (stream !== 1 && stream !== 2)
      throw new Error(`not a multiplexed Docker stream: frame type ${stream} at byte ${offset}`);
    parts[stream === 1 ? 'stdout' : 'stderr'].push(
      data.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length),
    );
    offset += HEADER_BYTES + length;
  }
  if (offset !== data.length) throw new Error(`a truncated Docker stream frame at byte ${offset} of ${data.length}`);
  return { stdout: Buffer.concat(parts.stdout).toString('utf8'), stderr: Buffer.concat(parts.stderr).toString('utf8') };
}

/** Reads a multiplexed stream (a hijacked exec start, say) to its end. */
export async function readDemuxed(stream: AsyncIterable<Buffer | string>): Promise<DemuxedOutput> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return demuxOutput(Buffer.concat(chunks));
}
