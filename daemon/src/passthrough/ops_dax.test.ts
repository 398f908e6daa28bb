// DAX through the real daemon process: the front-end driver plays a VMM with a shared-memory
// window and serves SHMEM_MAP/UNMAP by mmapping the daemon's fd into it, as QEMU would.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FUSE_ATTR_DAX,
  FUSE_SETUPMAPPING_FLAG_READ as READ,
  FUSE_SETUPMAPPING_FLAG_WRITE as WRITE,
  InitFlag,
  InitFlag2,
} from '../fuse/abi';
import { EACCES, EBADF, EINVAL, EIO, ENOSYS, EROFS } from '../fuse/errno';
import { u64Payload } from '../vhost_user/connection';
import { FrontendRequest as R, ProtocolFeature as PF, hasBit } from '../vhost_user/protocol';
import { bundleWorker } from '@vfs/harness/bundles';
import { OpenWatch } from '@vfs/harness/open_watch';
import { type FrontendOptions, VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { DEFAULT_INIT_FLAGS, errnoOf, FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';

const MIB = 1 << 20;
const CHUNK = 2 * MIB;
const WINDOW_MIB = 4;
const WINDOW = WINDOW_MIB * MIB;

interface Daemon {
  readonly dir: string;
  readonly frontend: VhostUserFrontend;
  readonly client: FuseClient;
  stop(): void;
}

let script: string;
const running: Daemon[] = [];

beforeAll(() => {
  script = bundleWorker(join(__dirname, '../main.ts'));
});
afterAll(() => rmSync(script, { force: true }));
afterEach(() => {
  for (const d of running.splice(0)) d.stop();
});

/** The daemon on a fresh directory, and a front-end with (by default) a DAX window and a channel. */
function start(
  flags: string[],
  frontend: Partial<FrontendOptions> = { shmemSize: WINDOW, backendChannel: true },
): Daemon {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-dax-'));
  const socketPath = `${dir}.sock`;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      script,
      `--socket-path=${socketPath}`,
      `--shared-dir=${dir}`,
      `--log-level=${process.env['VFS_TEST_LOG'] ?? 'error'}`,
      ...flags,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const stopDaemon = (): void => {
    child.kill('SIGKILL');
    rmSync(socketPath, { force: true });
    rmSync(dir, { recursive: true, force: true });
  };
  let fe: VhostUserFrontend;
  try {
    fe = VhostUserFrontend.connect({ socketPath, memorySize: 16 << 20, ...frontend });
  } catch (err) {
    stopDaemon();
    throw err;
  }
  const d: Daemon = {
    dir,
    frontend: fe,
    client: new FuseClient(fe),
    stop: () => {
      fe.close();
      stopDaemon();
    },
  };
  running.push(d);
  return d;
}

/** What the guest would read at `offset` of the window (copied: the range may be unmapped later). */
function windowBytes(d: Daemon, offset: number, len: number): Buffer {
  const shmem = d.frontend.shmem;
  if (shmem === null) throw new Error('the front-end has no DAX window');
  return Buffer.from(shmem.view(offset, len));
}

/**
 * The inode of the file mapped at `offset` of the front-end's window, from /proc/self/maps; null
 * when none. Not its path: a sandboxed daemon's fds name paths of its own private root.
 */
function fileMappedAt(d: Daemon, offset: number): number | null {
  const addr = (d.frontend.shmem?.base ?? 0) + offset;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (m === null || addr < parseInt(m[1]!, 16) || addr >= parseInt(m[2]!, 16)) continue;
    return m[3] === '0' ? null : Number(m[3]);
  }
  return null;
}

const INIT_WITH_DAX = DEFAULT_INIT_FLAGS | InitFlag.MAP_ALIGNMENT;

describe('DAX on a read-only export', () => {
  test('INIT names the page alignment; SETUPMAPPING shows the file in the window, REMOVEMAPPING takes it away', () => {
    const d = start(['--readonly', `--dax-window=${WINDOW_MIB}`]);
    const data = randomBytes(3 * MIB);
    writeFileSync(join(d.dir, 'data'), data);
    const init = d.client.init(INIT_WITH_DAX);
    expect(init.flags & InitFlag.MAP_ALIGNMENT).toBe(InitFlag.MAP_ALIGNMENT);
    expect(init.mapAlignment).toBe(21);

    const f = d.client.lookup(1, 'data');
    // As the kernel does: one 2 MiB chunk per request, the second one past the end of the file.
    d.client.setupmapping(f.nodeid, { foffset: CHUNK, len: CHUNK, flags: READ, moffset: 0 });
    d.client.setupmapping(f.nodeid, { foffset: 0, len: CHUNK, flags: READ, moffset: CHUNK });
    expect(windowBytes(d, 0, MIB).equals(data.subarray(CHUNK))).toBe(true);
    expect(windowBytes(d, CHUNK, CHUNK).equals(data.subarray(0, CHUNK))).toBe(true);
    expect(fileMappedAt(d, 0)).toBe(statSync(join(d.dir, 'data')).ino);

    d.client.removemapping(f.nodeid, [
      { moffset: 0, len: CHUNK },
      { moffset: CHUNK, len: CHUNK },
    ]);
    expect(fileMappedAt(d, 0)).toBeNull();
    expect(fileMappedAt(d, CHUNK)).toBeNull();
  });

  test('--dax-min-file-kib: INIT takes FUSE_HAS_INODE_DAX and only the big file carries FUSE_ATTR_DAX', () => {
    const d = start(['--readonly', `--dax-window=${WINDOW_MIB}`, '--dax-min-file-kib=1024']);
    writeFileSync(join(d.dir, 'big'), randomBytes(MIB));
    writeFileSync(join(d.dir, 'small'), 'small');
    const init = d.client.init(INIT_WITH_DAX, undefined, InitFlag2.HAS_INODE_DAX);
    expect(init.flags2 & InitFlag2.HAS_INODE_DAX).toBe(InitFlag2.HAS_INODE_DAX);
    expect(d.client.lookup(1, 'big').attr.flags & FUSE_ATTR_DAX).toBe(FUSE_ATTR_DAX);
    expect(d.client.lookup(1, 'small').attr.flags & FUSE_ATTR_DAX).toBe(0);
  });

  test('write mappings are refused with EROFS; bad ranges, flags, nodes and handles get an errno', () => {
    const d = start(['--readonly', `--dax-window=${WINDOW_MIB}`]);
    writeFileSync(join(d.dir, 'a'), randomBytes(CHUNK));
    writeFileSync(join(d.dir, 'b'), 'b');
    const c = d.client;
    c.init(INIT_WITH_DAX);
    const a = c.lookup(1, 'a').nodeid;
    const b = c.lookup(1, 'b').nodeid;
    const ok = { foffset: 0, len: CHUNK, flags: READ, moffset: 0 };
    const setup = (nodeid: number, m: Partial<typeof ok> & { fh?: number }): number =>
      errnoOf(() => c.setupmapping(nodeid, { ...ok, ...m }));

    expect(setup(a, { flags: READ | WRITE })).toBe(EROFS);
    expect(setup(a, { moffset: CHUNK, len: CHUNK + 4096 })).toBe(EINVAL);
    // One chunk per request, as the kernel sends: the whole window would be a round trip per chunk.
    expect(setup(a, { len: 2 * CHUNK })).toBe(EINVAL);
    expect(setup(a, { len: WINDOW })).toBe(EINVAL);
    expect(setup(a, { moffset: WINDOW })).toBe(EINVAL);
    expect(setup(a, { moffset: 512 })).toBe(EINVAL);
    expect(setup(a, { foffset: 100 })).toBe(EINVAL);
    expect(setup(a, { len: 0 })).toBe(EINVAL);
    expect(setup(a, { flags: 0 })).toBe(EINVAL);
    expect(setup(a, { flags: 4 })).toBe(EINVAL);
    expect(setup(a, { moffset: 2 ** 63 })).toBe(EINVAL);
    expect(setup(987654, {})).toBe(EBADF);
    expect(setup(1, {})).toBe(EACCES);
    expect(setup(a, { fh: 4242 })).toBe(EBADF);
    const bh = c.open(b, 0).fh;
    expect(setup(a, { fh: bh })).toBe(EBADF);

    const remove = (ranges: { moffset: number; len: number }[], count?: number): number =>
      errnoOf(() => c.removemapping(a, ranges, count));
    expect(remove([{ moffset: CHUNK, len: CHUNK + 4096 }])).toBe(EINVAL);
    expect(remove([{ moffset: 0, len: CHUNK }], 2)).toBe(EINVAL);
    expect(remove([], 257)).toBe(EINVAL);
    expect(
      remove([
        { moffset: 0, len: CHUNK },
        { moffset: 1, len: 4096 },
      ]),
    ).toBe(EINVAL);

    // Still serving, and a handle of the node itself is accepted.
    const ah = c.open(a, 0).fh;
    c.setupmapping(a, { ...ok, fh: ah });
    expect(windowBytes(d, 0, 16).equals(readFileSync(join(d.dir, 'a')).subarray(0, 16))).toBe(true);
    c.removemapping(a, [{ moffset: 0, len: CHUNK }]);
    expect(c.getattr(1).ino).toBeGreaterThan(0);
  });
});

test('mappings are whole 2 MiB chunks, so the window holds at most one per chunk; past that, EINVAL', () => {
  const d = start([`--dax-window=${WINDOW_MIB}`]);
  writeFileSync(join(d.dir, 'f'), randomBytes(2 * CHUNK));
  const c = d.client;
  c.init(INIT_WITH_DAX);
  const f = c.lookup(1, 'f').nodeid;
  const page = { foffset: 0, len: 4096, flags: READ, moffset: 0 };
  const setup = (m: Partial<typeof page>): number => errnoOf(() => c.setupmapping(f, { ...page, ...m }));
  // A mapping per page would split the VMM's window into one mapping each.
  for (let at = 0; at < 4 * 4096; at += 4096) expect(setup({ moffset: at, foffset: at })).toBe(EINVAL);
  expect(setup({ len: CHUNK, moffset: 4096 })).toBe(EINVAL);
  expect(setup({ len: CHUNK, foffset: 4096 })).toBe(EINVAL);
  expect(setup({ len: CHUNK + 4096 })).toBe(EINVAL);
  expect(fileMappedAt(d, 0)).toBeNull();

  c.setupmapping(f, { ...page, len: CHUNK });
  c.setupmapping(f, { ...page, len: CHUNK, foffset: CHUNK, moffset: CHUNK });
  expect(errnoOf(() => c.removemapping(f, [{ moffset: 0, len: 4096 }]))).toBe(EINVAL);
  expect(errnoOf(() => c.removemapping(f, [{ moffset: 4096, len: CHUNK }]))).toBe(EINVAL);
  expect(fileMappedAt(d, 4096)).toBe(statSync(join(d.dir, 'f')).ino);
  // The window is full (WINDOW / CHUNK mappings), and still serves: a new mapping replaces one.
  c.setupmapping(f, { ...page, len: CHUNK, foffset: CHUNK, moffset: 0 });
  expect(windowBytes(d, 0, 16).equals(readFileSync(join(d.dir, 'f')).subarray(CHUNK, CHUNK + 16))).toBe(true);
  c.removemapping(f, [{ moffset: 0, len: WINDOW }]);
  expect(fileMappedAt(d, CHUNK)).toBeNull();
  expect(c.getattr(f).ino).toBeGreaterThan(0);
});

test('a read-write export takes write mappings: the guest writes the host file through the window', () => {
  const d = start([`--dax-window=${WINDOW_MIB}`]);
  writeFileSync(join(d.dir, 'w'), Buffer.alloc(8192));
  d.client.init(INIT_WITH_DAX);
  const w = d.client.lookup(1, 'w').nodeid;
  d.client.setupmapping(w, { foffset: 0, len: CHUNK, flags: READ | WRITE, moffset: CHUNK });
  const shmem = d.frontend.shmem;
  if (shmem === null) throw new Error('no window');
  shmem.view(CHUNK + 4096, 5).set(Buffer.from('hello'));
  expect(readFileSync(join(d.dir, 'w')).subarray(4096, 4101).toString()).toBe('hello');
  d.client.removemapping(w, [{ moffset: CHUNK, len: CHUNK }]);
});

test('device nodes and FIFOs the guest made are never mapped: EACCES, without opening them', () => {
  // Unsandboxed, on a share that is not nodev: opening a device node there would work.
  const d = start([`--dax-window=${WINDOW_MIB}`, '--sandbox=none']);
  d.client.init(INIT_WITH_DAX);
  const watch = OpenWatch.of(d.dir);
  const S_IFCHR = 0o020000;
  const S_IFBLK = 0o060000;
  const S_IFIFO = 0o010000;
  const nodes = [
    d.client.mknod(1, 'n1', S_IFCHR | 0o666, (1 << 8) | 3),
    d.client.mknod(1, 'n2', S_IFBLK | 0o660, 7 << 8),
    d.client.mknod(1, 'fifo', S_IFIFO | 0o644),
  ];
  for (const n of nodes) {
    for (const flags of [READ, READ | WRITE]) {
      expect(errnoOf(() => d.client.setupmapping(n.nodeid, { foffset: 0, len: CHUNK, flags, moffset: 0 }))).toBe(
        EACCES,
      );
    }
  }
  expect(fileMappedAt(d, 0)).toBeNull();
  expect(watch.opened()).toEqual([]);
  watch.close();
});

/**
 * Maps chunk 1 of a one-chunk file for reading, remaps it for writing (as the guest does on its
 * first write), writes through the window, then removes every mapping of the window at once.
 */
function remapReadToWrite(d: Daemon): void {
  writeFileSync(join(d.dir, 'f'), Buffer.alloc(CHUNK, 'r'));
  d.client.init(INIT_WITH_DAX);
  const f = d.client.lookup(1, 'f').nodeid;
  d.client.setupmapping(f, { foffset: 0, len: CHUNK, flags: READ, moffset: CHUNK });
  d.client.setupmapping(f, { foffset: 0, len: CHUNK, flags: READ | WRITE, moffset: CHUNK });
  d.frontend.shmem?.view(CHUNK, 1).set(Buffer.from('w'));
  expect(readFileSync(join(d.dir, 'f')).subarray(0, 2).toString()).toBe('wr');
  // Only the mapped chunk is unmapped.
  d.client.removemapping(f, [{ moffset: 0, len: WINDOW }]);
}

function expectNoDax(d: Daemon): void {
  writeFileSync(join(d.dir, 'f'), 'f');
  const f = d.client.lookup(1, 'f').nodeid;
  expect(errnoOf(() => d.client.setupmapping(f, { foffset: 0, len: CHUNK, flags: READ, moffset: 0 }))).toBe(ENOSYS);
  expect(errnoOf(() => d.client.removemapping(f, [{ moffset: 0, len: CHUNK }]))).toBe(ENOSYS);
}

test('DAX off: ENOSYS, and INIT does not answer MAP_ALIGNMENT', () => {
  const d = start(['--readonly']);
  expect(d.client.init(INIT_WITH_DAX).flags & InitFlag.MAP_ALIGNMENT).toBe(0);
  expectNoDax(d);
});

test.each([
  ['no back-end channel', { shmemSize: WINDOW, backendChannel: false }],
  ['a channel but no shared-memory window (SHMEM not acked)', { backendChannel: true }],
])('DAX on but a front-end with %s: ENOSYS', (_what, frontend) => {
  const d = start([`--dax-window=${WINDOW_MIB}`], frontend);
  d.client.init();
  expectNoDax(d);
});

test('a mapping the front-end refuses is answered EIO, and the daemon keeps serving', () => {
  // The VMM's window is smaller than the one the daemon was told about.
  // The refusals are logged as errors: keep them out of the test output.
  const d = start([`--dax-window=${WINDOW_MIB}`, '--log-level=off'], { shmemSize: CHUNK, backendChannel: true });
  writeFileSync(join(d.dir, 'f'), 'f');
  d.client.init(INIT_WITH_DAX);
  const f = d.client.lookup(1, 'f').nodeid;
  expect(errnoOf(() => d.client.setupmapping(f, { foffset: 0, len: CHUNK, flags: READ, moffset: CHUNK }))).toBe(EIO);
  // Nothing was mapped there: nothing to ask the front-end to take away.
  d.client.removemapping(f, [{ moffset: CHUNK, len: CHUNK }]);
  expect(d.frontend.shmem?.served.map((r) => r.request)).toEqual(['map']);
  d.client.setupmapping(f, { foffset: 0, len: CHUNK, flags: READ, moffset: 0 });
  expect(windowBytes(d, 0, 1).toString()).toBe('f');
});

describe("QEMU 11.1's generic vhost-user device (vhost-user-test-device-pci, virtio-id=26)", () => {
  test('SHMEM is offered at bit 22 (20 is GET_VRING_BASE_INFLIGHT), with the window size and 509 memory slots', () => {
    const d = start([`--dax-window=${WINDOW_MIB}`], {
      shmemSize: WINDOW,
      backendChannel: true,
      memoryMode: 'slots',
    });
    const offered = d.frontend.vhostUser.getU64(R.GET_PROTOCOL_FEATURES);
    expect(hasBit(offered, 22)).toBe(true);
    expect(hasBit(offered, 20)).toBe(false);
    expect(hasBit(d.frontend.protocolFeatures, PF.SHMEM)).toBe(true);
    expect(d.frontend.shmemConfig).toEqual([WINDOW]);
    expect(d.frontend.vhostUser.getU64(R.GET_MAX_MEM_SLOTS)).toBe(509n);
  });

  test('without a DAX window neither SHMEM nor CONFIG is offered (vhost-user-fs-pci on QEMU ≥ 10 warns about CONFIG)', () => {
    const d = start(['--readonly'], { backendChannel: true });
    const offered = d.frontend.vhostUser.getU64(R.GET_PROTOCOL_FEATURES);
    expect(hasBit(offered, PF.SHMEM)).toBe(false);
    expect(hasBit(offered, PF.CONFIG)).toBe(false);
  });

  test('GET_CONFIG answers the virtio-fs config space: the tag, NUL-padded to 36 bytes, and num_request_queues', () => {
    const d = start([`--dax-window=${WINDOW_MIB}`, '--tag=layer-0'], {
      shmemSize: WINDOW,
      backendChannel: true,
      config: true,
    });
    expect(hasBit(d.frontend.protocolFeatures, PF.CONFIG)).toBe(true);
    const config = Buffer.from(d.frontend.getConfig(40));
    expect(config.subarray(0, 36).equals(Buffer.concat([Buffer.from('layer-0'), Buffer.alloc(29)]))).toBe(true);
    expect(config.readUInt32LE(36)).toBe(1);
    expect(Buffer.from(d.frontend.getConfig(4, 36)).readUInt32LE(0)).toBe(1);
    // Past the 40 bytes: refused, and the connection keeps serving.
    expect(() => d.frontend.getConfig(8, 36)).toThrow();
    expect(Buffer.from(d.frontend.getConfig(7)).toString()).toBe('layer-0');
  });

  test('a chunk remapped in place (read, then write) on a front-end that refuses an overlap (QEMU 11.1) is unmapped, then mapped again', () => {
    const d = start([`--dax-window=${WINDOW_MIB}`]);
    remapReadToWrite(d);
    expect(d.frontend.shmem?.served).toEqual([
      { request: 'map', shmOffset: CHUNK, len: CHUNK, status: 0n },
      { request: 'map', shmOffset: CHUNK, len: CHUNK, status: 1n },
      { request: 'unmap', shmOffset: CHUNK, len: CHUNK, status: 0n },
      { request: 'map', shmOffset: CHUNK, len: CHUNK, status: 0n },
      { request: 'unmap', shmOffset: CHUNK, len: CHUNK, status: 0n },
    ]);
    expect(fileMappedAt(d, CHUNK)).toBeNull();
  });

  test('a chunk remapped in place on our QEMU (which replaces a mapping atomically) is never unmapped in between', () => {
    const d = start([`--dax-window=${WINDOW_MIB}`], { shmemSize: WINDOW, backendChannel: true, shmemInPlace: true });
    remapReadToWrite(d);
    expect(d.frontend.shmem?.served).toEqual([
      { request: 'map', shmOffset: CHUNK, len: CHUNK, status: 0n },
      { request: 'map', shmOffset: CHUNK, len: CHUNK, status: 0n },
      { request: 'unmap', shmOffset: CHUNK, len: CHUNK, status: 0n },
    ]);
    expect(fileMappedAt(d, CHUNK)).toBeNull();
  });

  test('ADD_MEM_REG / REM_MEM_REG sent while the daemon awaits its next map or unmap reply are answered, past 32 slots', () => {
    const chunks = 40;
    // The smallest window (a power of two) with more chunks than QEMU's 32 memory slots.
    const windowMiB = 128;
    const d = start([`--dax-window=${windowMiB}`], {
      shmemSize: windowMiB * MIB,
      backendChannel: true,
      memoryMode: 'slots',
      announceMappings: true,
      // A daemon that stopped reading its socket would leave ADD_MEM_REG unanswered this long.
      timeoutMs: 3000,
    });
    writeFileSync(join(d.dir, 'f'), Buffer.alloc(2 * CHUNK, 'x'));
    d.client.init(INIT_WITH_DAX);
    const f = d.client.lookup(1, 'f').nodeid;
    for (let i = 0; i < chunks; i++) {
      d.client.setupmapping(f, { foffset: 0, len: CHUNK, flags: READ | WRITE, moffset: i * CHUNK });
    }
    // In place: the UNMAP's REM_MEM_REG arrives while the daemon awaits the MAP's reply.
    d.client.setupmapping(f, { foffset: CHUNK, len: CHUNK, flags: READ | WRITE, moffset: 0 });
    // One REMOVEMAPPING, one UNMAP per chunk: each REM_MEM_REG meets the next UNMAP.
    d.client.removemapping(f, [{ moffset: 0, len: chunks * CHUNK }]);
    const served = d.frontend.shmem?.served ?? [];
    expect(served.filter((r) => r.status === 0n)).toHaveLength(2 * chunks + 2);
    // The in-place remap is tried once as is, refused as an overlap.
    expect(served.filter((r) => r.status !== 0n)).toEqual([{ request: 'map', shmOffset: 0, len: CHUNK, status: 1n }]);
    expect(d.client.getattr(f).size).toBe(2 * CHUNK);
  });

  test('a message that is no memory change, sent while the daemon awaits its SHMEM_MAP reply, is served once the map is done', () => {
    const d = start([`--dax-window=${WINDOW_MIB}`]);
    writeFileSync(join(d.dir, 'f'), 'f');
    d.client.init(INIT_WITH_DAX);
    const f = d.client.lookup(1, 'f').nodeid;
    const shmem = d.frontend.shmem!;
    const handle = shmem.handle.bind(shmem);
    // As QEMU might while the guest maps: a status change that expects no reply.
    shmem.handle = (msg, listener, respond): bigint => {
      d.frontend.connection.send(R.SET_STATUS, 0, u64Payload(0x0f));
      return handle(msg, listener, respond);
    };
    d.client.setupmapping(f, { foffset: 0, len: CHUNK, flags: READ, moffset: 0 });
    shmem.handle = handle;
    expect(d.frontend.vhostUser.getU64(R.GET_STATUS)).toBe(0x0fn);
    expect(windowBytes(d, 0, 1).toString()).toBe('f');
  });
});
