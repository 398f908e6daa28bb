// Memory-table changes from a hostile or careless front-end, against the real daemon process: a
// table it cannot safely map is refused with the old one kept, and a table change followed by a
// device reset never leaves a reply to be written into memory that is already unmapped.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EINTR } from '../fuse/errno';
import { LK_IN_SIZE, Opcode, OUT_HEADER_SIZE } from '../fuse/abi';
import { close } from '../sys/fd';
import { ftruncate, memfdCreate, PAGE_SIZE } from '../sys/mman';
import type { RegionSpec } from '../virtio/guest_memory';
import { VhostUserError } from './errors';
import { FrontendRequest as R } from './protocol';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { FuseClient, LOCK_TO_EOF, type FileLock } from '@vfs/harness/vhost_user_driver/fuse_client';
import { REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import { startHarness, type DaemonHarness } from '../../test_support/passthrough_harness';

jest.setTimeout(30_000);

const O_RDWR = 2;
const F_WRLCK = 1;
const writeLock: FileLock = { start: 0n, end: LOCK_TO_EOF, type: F_WRLCK, pid: 1 };
/** Guest-physical and user addresses far from the harness's guest RAM and from its mapping. */
const FAR_GUEST = 2 ** 36;
const FAR_USER = 2 ** 40;

let h: DaemonHarness;
afterEach(() => h.cleanup());

/** The same table again, as QEMU sends after any memory-layout change. */
function resendTable(f: VhostUserFrontend): void {
  f.setMemTable(
    f.ram.regions,
    f.ram.regions.map(() => f.ram.fd),
  );
}

/** Publishes a chain the daemon cannot answer yet (a SETLKW on a locked file); returns its reply buffer. */
function parkSetlkw(c: FuseClient, f: VhostUserFrontend, nodeid: number, fh: number): { head: number; reply: number } {
  const request = Buffer.concat([c.header(Opcode.SETLKW, nodeid, LK_IN_SIZE), c.lkIn(fh, 2n, writeLock)]);
  const gpa = f.ram.alloc(request.length);
  f.ram.view(gpa, request.length).set(request);
  const reply = f.ram.alloc(OUT_HEADER_SIZE);
  const q = f.queue(REQUEST_QUEUE);
  const head = q.addChain([{ gpa, len: request.length }], [{ gpa: reply, len: OUT_HEADER_SIZE }], false);
  q.publish(head);
  f.kick(q);
  // Chains are taken in order: once this is answered, the SETLKW is parked.
  c.getattr(nodeid);
  return { head, reply };
}

test('RESET_DEVICE after SET_MEM_TABLE answers a parked SETLKW before unmapping, and the daemon serves the next front end (seccomp kill)', () => {
  h = startHarness({}, { sandbox: 'namespace', seccomp: 'kill' });
  const { client: c, frontend: f } = h;
  c.init();
  writeFileSync(join(h.dir, 'locked'), 'data');
  const e = c.lookup(1, 'locked');
  const { fh } = c.open(e.nodeid, O_RDWR);
  c.setlk(e.nodeid, fh, 1n, writeLock);
  const parked = parkSetlkw(c, f, e.nodeid, fh);

  resendTable(f);
  f.vhostUser.set(R.RESET_DEVICE);

  expect(f.waitUsed(REQUEST_QUEUE)).toEqual([{ head: parked.head, len: OUT_HEADER_SIZE }]);
  expect(f.ram.dataView(parked.reply, OUT_HEADER_SIZE).getInt32(4, true)).toBe(-EINTR);
  f.disconnect();
  const next = VhostUserFrontend.connect({ socketPath: `${h.dir}.sock`, memorySize: 16 << 20 });
  try {
    const c2 = new FuseClient(next);
    c2.init();
    expect(c2.lookup(1, 'locked').attr.size).toBe(4);
  } finally {
    next.close();
  }
});

test('a memory region larger than its fd is refused, the old table stays, and the daemon keeps serving', () => {
  h = startHarness();
  const { client: c, frontend: f } = h;
  c.init();
  const small = memfdCreate('vfs-too-small');
  ftruncate(small, PAGE_SIZE);
  const beyondEof: RegionSpec = { guestAddr: FAR_GUEST, size: 1 << 20, userAddr: FAR_USER, mmapOffset: 0 };
  try {
    expect(() => f.setMemTable([...f.ram.regions, beyondEof], [...f.ram.regions.map(() => f.ram.fd), small])).toThrow(
      VhostUserError,
    );
  } finally {
    close(small);
  }

  // Had the region been mapped, reading this request would fault past the end of the memfd.
  const q = f.queue(REQUEST_QUEUE);
  const [d] = q.takeDescriptors(1) as [number];
  q.writeRaw({ index: d, addr: FAR_GUEST + 2 * PAGE_SIZE, len: 64, flags: 0, next: 0 });
  q.publish(d);
  f.kick(q);
  expect(f.waitUsed(REQUEST_QUEUE)).toEqual([{ head: d, len: 0 }]);
  q.returnDescriptors([d]);
  expect(c.getattr(1).ino).toBeGreaterThan(0n);
});

test('SET_MEM_TABLE with regions overlapping in guest-physical or user addresses is refused, and the daemon keeps serving', () => {
  h = startHarness();
  const { client: c, frontend: f } = h;
  c.init();
  const ram = f.ram.regions[0]!;
  const sharedGuest: RegionSpec = {
    guestAddr: ram.guestAddr + PAGE_SIZE,
    size: PAGE_SIZE,
    userAddr: FAR_USER,
    mmapOffset: 0,
  };
  const sharedUser: RegionSpec = { guestAddr: FAR_GUEST, size: PAGE_SIZE, userAddr: ram.userAddr, mmapOffset: 0 };
  for (const clash of [sharedGuest, sharedUser]) {
    expect(() => f.setMemTable([ram, clash], [f.ram.fd, f.ram.fd])).toThrow(VhostUserError);
  }
  expect(c.getattr(1).ino).toBeGreaterThan(0n);
});
