// vhost-user cases: a VMM restart (reconnect), a new VMM with other ring options, a hostile
// sequence on a connection of its own, and messages a hostile VMM sends on a live connection
// (memory tables that do not fit the memfd, ring changes, RESET_DEVICE), at times with a SETLKW
// parked in the daemon. Each ends with a front end connected and INIT answered: that the daemon
// still serves is the check.
import * as abi from '@vfs/daemon/fuse';
import { connectUnix, signal } from '@vfs/daemon/sys';
import { Connection, FLAG_NEED_REPLY, FrontendRequest as R, Layout, VhostUserError } from '@vfs/daemon/vhost-user';
import { regionPayload, statePayload, type VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { FuseClient, FuseError, LOCK_TO_EOF } from '@vfs/harness/vhost_user_driver/fuse_client';
import { sleepSync } from '@vfs/harness/vhost_user_driver/vhost_user_client';
import { REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';
import type { Noise } from './fuse_values';
import { driverChoice, type FuzzSession } from './fuzz_session';
import type { Rng } from './prng';
import { hostileSequence, releaseResources, sequenceResources } from './vhost_messages';

export type VhostCaseKind = 'reconnect' | 'new-frontend' | 'hostile-sequence' | 'live-messages';

/** How long a hostile connection waits for an answer to a GET before giving up on it. */
const RAW_REPLY_MS = 200;
const O_RDWR = 2;
const O_CREAT = 0o100;
const F_WRLCK = 1;

export function vhostCaseKind(rng: Rng): VhostCaseKind {
  const r = rng.float();
  if (r < 0.35) return 'reconnect';
  if (r < 0.55) return 'new-frontend';
  if (r < 0.8) return 'hostile-sequence';
  return 'live-messages';
}

export function runVhostCase(
  kind: VhostCaseKind,
  rng: Rng,
  session: FuzzSession,
  noise: Noise,
  socketPath: string,
): void {
  switch (kind) {
    case 'reconnect':
      return session.reconnect();
    case 'new-frontend':
      return session.connect(driverChoice(rng));
    case 'hostile-sequence':
      session.close();
      hostileConnection(rng, noise, socketPath);
      return session.connect(driverChoice(rng));
    case 'live-messages':
      liveMessages(rng, session.frontend);
      return session.connect(driverChoice(rng));
  }
}

/** Sends a hostile sequence, kicks the ring it may have set up, and hangs up. */
function hostileConnection(rng: Rng, noise: Noise, socketPath: string): void {
  const res = sequenceResources(rng, noise);
  const conn = new Connection(connectUnix(socketPath), RAW_REPLY_MS);
  try {
    for (const m of hostileSequence(rng, res, noise)) {
      conn.send(m.request, m.needReply ? FLAG_NEED_REPLY : 0, m.payload, m.fds);
      if (m.needReply && conn.receive() === null) break;
    }
    for (let n = rng.below(4); n > 0; n--) signal(res.kick);
    sleepSync(rng.below(4));
  } catch (err) {
    // The daemon refused, dropped the connection or did not answer a GET: all allowed.
    if (!(err instanceof Error)) throw err;
  } finally {
    conn.close();
    releaseResources(res);
  }
}

/** A few hostile messages on the live connection; its state is lost after them (a new front end follows). */
function liveMessages(rng: Rng, frontend: VhostUserFrontend): void {
  if (rng.chance(0.5)) parkSetlkw(rng, frontend);
  for (let n = 1 + rng.below(3); n > 0; n--) {
    try {
      liveMessage(rng, frontend);
    } catch (err) {
      if (!(err instanceof VhostUserError)) throw err;
    }
  }
}

function liveMessage(rng: Rng, f: VhostUserFrontend): void {
  const c = f.vhostUser;
  const ram = f.ram;
  const regions = ram.regions;
  switch (rng.below(8)) {
    case 0: {
      // A memory table QEMU would send at hotplug, or one whose regions do not fit the memfd.
      const bad = regions.map((r) => ({ ...r }));
      const which = rng.below(4);
      if (which === 1) bad[0]!.size = ram.size * 2;
      if (which === 2) bad.push({ ...bad[0]! });
      if (which === 3) bad[0]!.mmapOffset = ram.size - 4096;
      f.setMemTable(
        bad,
        bad.map(() => ram.fd),
      );
      return;
    }
    case 1:
      return c.set(R.RESET_DEVICE);
    case 2:
      c.get(R.GET_VRING_BASE, statePayload(rng.below(2), 0));
      return;
    case 3:
      return c.set(R.SET_VRING_NUM, statePayload(REQUEST_QUEUE, rng.pick([0, 3, 100, 65535, 32768])));
    case 4: {
      const addr = new Uint8Array(Layout.VRING_ADDR_SIZE);
      const v = new DataView(addr.buffer);
      v.setUint32(0, REQUEST_QUEUE, true);
      for (const at of [Layout.VRING_ADDR_DESC, Layout.VRING_ADDR_USED, Layout.VRING_ADDR_AVAIL])
        v.setBigUint64(at, BigInt(ram.hostBase + rng.pick([1, ram.size - 8, ram.size, 0x1000_0000])), true);
      return c.set(R.SET_VRING_ADDR, addr);
    }
    case 5:
      return c.setU64(R.SET_FEATURES, rng.u64());
    case 6:
      return c.set(R.SET_VRING_ENABLE, statePayload(REQUEST_QUEUE, 0));
    default:
      return c.set(R.REM_MEM_REG, regionPayload(Layout.SINGLE_REGION_OFFSET, [regions[0]!]), [ram.fd]);
  }
}

/** Holds a write lock with one owner and leaves another owner's SETLKW for it waiting in the daemon. */
function parkSetlkw(rng: Rng, f: VhostUserFrontend): void {
  const client = new FuseClient(f);
  try {
    const { entry, fh } = client.create(1, `lock${rng.below(3)}`, O_RDWR | O_CREAT, 0o644);
    const lock = { start: 0n, end: LOCK_TO_EOF, type: F_WRLCK, pid: 1 };
    client.setlk(entry.nodeid, fh, 1n, lock);
    const args = client.lkIn(fh, 2n, lock);
    const h = client.header(abi.Opcode.SETLKW, entry.nodeid, args.length);
    const q = f.queue(REQUEST_QUEUE);
    const reqGpa = f.ram.alloc(h.length + args.length);
    f.ram.view(reqGpa, h.length + args.length).set(Buffer.concat([h, args]));
    const reply = { gpa: f.ram.alloc(abi.OUT_HEADER_SIZE), len: abi.OUT_HEADER_SIZE };
    q.publish(q.addChain([{ gpa: reqGpa, len: h.length + args.length }], [reply], false));
    f.kick(q);
    sleepSync(2);
  } catch (err) {
    // The share's state (a fuzzed mode, a directory of that name) may refuse the set-up.
    if (!(err instanceof FuseError)) throw err;
  }
}
