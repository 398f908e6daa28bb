// A request whose writable buffers cannot hold the out-header gets no reply bytes at all, whatever
// its opcode: half an out-header would be a reply the guest misreads. Found by the fuzzer (seed 1,
// case 1480: a READ offering 6 bytes got a 6-byte reply).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IN_HEADER_SIZE, Opcode, READ_IN_SIZE, ReadIn } from './abi';
import { REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import { startHarness, type DaemonHarness } from '../../test_support/passthrough_harness';

let h: DaemonHarness;

beforeEach(() => {
  h = startHarness();
  h.client.init();
});
afterEach(() => h.cleanup());

test('a READ offering less reply space than the out-header is completed with nothing written, and the daemon keeps serving', () => {
  writeFileSync(join(h.dir, 'f'), 'hello, world');
  const c = h.client;
  const e = c.lookup(1, 'f');
  const { fh } = c.open(e.nodeid, 0);
  const args = Buffer.alloc(READ_IN_SIZE);
  args.writeBigUInt64LE(BigInt(fh), ReadIn.fh);
  args.writeUInt32LE(4096, ReadIn.size);
  for (const room of [1, 6, 15]) {
    const header = c.header(Opcode.READ, e.nodeid, READ_IN_SIZE);
    expect(header.length).toBe(IN_HEADER_SIZE);
    const reply = h.frontend.call(REQUEST_QUEUE, { readable: [header, args], writableLen: room });
    expect(reply.length).toBe(0);
  }
  expect(c.read(e.nodeid, fh, 0, 5).toString()).toBe('hello');
});
