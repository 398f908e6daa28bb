// A ChainHandler for transport tests: writes back what it read. A request starting with "DEFER"
// is answered later, from poll(), after `deferMs` — exercising DEFERRED and the CompletionSink.
import {
  DEFERRED,
  type ChainHandler,
  type ChainHandlerFactory,
  type CompletionSink,
  type DescriptorChain,
} from '../src/virtio/descriptor_chain';

const DEFER = Buffer.from('DEFER');
export const DEFER_MS = 20;

export class EchoHandler implements ChainHandler {
  private deferred: { chain: DescriptorChain; queue: number; due: number }[] = [];

  constructor(private readonly complete: CompletionSink) {}

  handle(chain: DescriptorChain, queueIndex: number): number {
    const first = chain.readable[0];
    if (
      first !== undefined &&
      first.len >= DEFER.length &&
      Buffer.compare(first.bytes.subarray(0, DEFER.length), DEFER) === 0
    ) {
      this.deferred.push({ chain, queue: queueIndex, due: Date.now() + DEFER_MS });
      return DEFERRED;
    }
    return echo(chain);
  }

  poll(): number {
    const now = Date.now();
    const due = this.deferred.filter((d) => d.due <= now);
    this.deferred = this.deferred.filter((d) => d.due > now);
    for (const d of due) this.complete(d.chain, d.queue, echo(d.chain));
    return this.deferred.length === 0 ? -1 : Math.max(0, Math.min(...this.deferred.map((d) => d.due)) - now);
  }

  reset(): void {
    this.deferred = [];
  }
}

/** Copies the readable bytes, in order, into the writable buffers; returns the count. */
function echo(chain: DescriptorChain): number {
  let written = 0;
  let w = 0;
  let wOff = 0;
  for (const r of chain.readable) {
    const src = r.bytes;
    let rOff = 0;
    while (rOff < src.length && w < chain.writable.length) {
      const dst = chain.writable[w]!.bytes;
      const n = Math.min(src.length - rOff, dst.length - wOff);
      dst.set(src.subarray(rOff, rOff + n), wOff);
      rOff += n;
      wOff += n;
      written += n;
      if (wOff === dst.length) {
        w++;
        wOff = 0;
      }
    }
  }
  return written;
}

export const echoHandlerFactory: ChainHandlerFactory = (complete) => new EchoHandler(complete);
