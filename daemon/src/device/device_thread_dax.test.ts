// DAX on a device thread shared by several exports: QEMU announces each new mapping to every
// vhost-user back end of the VM and answers the SHMEM_MAP only once each has replied, so while one
// export awaits its reply, the others must keep answering their front-ends. And QEMU serves the
// back-end channel only from its main loop: a ring stop it sends meanwhile must be answered first.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorker } from '@vfs/harness/bundles';
import { tempDir } from '@vfs/harness/temp_dir';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { statePayload } from '@vfs/harness/vhost_user_driver/frontend';
import { DEFAULT_INIT_FLAGS, FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import type { DeviceExportConfig } from '../exports';
import { FUSE_SETUPMAPPING_FLAG_READ as READ, InitFlag } from '../fuse/abi';
import { createLogger } from '../log';
import { DEFAULT_LIMITS } from '../passthrough/config';
import { openProcSelfFd } from '../passthrough/passthrough_fs';
import { close } from '../sys/fd';
import { cPath, O_CLOEXEC, O_DIRECTORY, O_RDONLY, openat } from '../sys/fs';
import { FrontendRequest as R } from '../vhost_user/protocol';
import { startDeviceThread } from '../../test_support/device_worker_host';

const CHUNK = 2 << 20;
const AT_FDCWD = -100;

function openDir(path: string): number {
  const fd = openat(AT_FDCWD, cPath(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw new Error(`open ${path}: ${-fd}`);
  return fd;
}

function exportConfig(tag: string, rootFd: number, procSelfFd: number, dax: boolean): DeviceExportConfig {
  return {
    tag,
    rootFd,
    procSelfFd,
    readonly: false,
    cache: 'auto',
    xattr: false,
    posixLocks: false,
    flock: false,
    readdirplus: false,
    writeback: false,
    allowDirectIo: false,
    announceSubmounts: false,
    inodeFileHandles: 'never',
    translateUid: [],
    translateGid: [],
    limits: DEFAULT_LIMITS,
    dax,
  };
}

test('while one export awaits its SHMEM_MAP reply, another export on the thread answers its front-end', async () => {
  const dir = tempDir('vfs-dax-thread');
  const script = bundleWorker(join(__dirname, '../../test_support/fuse_device_worker.ts'));
  const fds: number[] = [openProcSelfFd()];
  const config = (tag: string, rootFd: number, dax: boolean): DeviceExportConfig =>
    exportConfig(tag, rootFd, fds[0] as number, dax);
  const thread = startDeviceThread<DeviceExportConfig>(script, 'off', createLogger('off', {}));
  const frontends: VhostUserFrontend[] = [];
  try {
    for (const tag of ['a', 'b']) mkdirSync(join(dir, tag));
    writeFileSync(join(dir, 'a', 'f'), Buffer.alloc(CHUNK, 'a'));
    fds.push(openDir(join(dir, 'a')), openDir(join(dir, 'b')));
    const [aSock, bSock] = [join(dir, 'a.sock'), join(dir, 'b.sock')];
    await thread.add({ tag: 'a', socketPath: aSock, shmemSizes: [CHUNK] }, config('a', fds[1] as number, true));
    await thread.add({ tag: 'b', socketPath: bSock }, config('b', fds[2] as number, false));
    const common = { memorySize: 16 << 20, timeoutMs: 3000 };
    const a = VhostUserFrontend.connect({ socketPath: aSock, shmemSize: CHUNK, backendChannel: true, ...common });
    const b = VhostUserFrontend.connect({ socketPath: bSock, ...common });
    frontends.push(a, b);
    const shmem = a.shmem!;
    const handle = shmem.handle.bind(shmem);
    let bFeatures = 0n;
    // As QEMU does: before it answers a's map, it waits for b (ADD_MEM_REG; any request will do).
    shmem.handle = (msg, listener, respond): bigint => {
      bFeatures = b.vhostUser.getU64(R.GET_FEATURES);
      return handle(msg, listener, respond);
    };
    const client = new FuseClient(a);
    client.init(DEFAULT_INIT_FLAGS | InitFlag.MAP_ALIGNMENT);
    const f = client.lookup(1, 'f').nodeid;
    client.setupmapping(f, { foffset: 0, len: CHUNK, flags: READ, moffset: 0 });
    expect(bFeatures).not.toBe(0n);
    expect(shmem.served).toEqual([{ request: 'map', shmOffset: 0, len: CHUNK, status: 0n }]);
    expect(shmem.view(0, 1)[0]).toBe('a'.charCodeAt(0));
  } finally {
    for (const f of frontends) f.close();
    await thread.stop();
    for (const fd of fds) close(fd);
    rmSync(script, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

test("a ring stop sent while a SHMEM_MAP awaits its reply is answered at once; the guest's map runs again after it", async () => {
  const dir = tempDir('vfs-dax-stop');
  const script = bundleWorker(join(__dirname, '../../test_support/fuse_device_worker.ts'));
  const fds: number[] = [openProcSelfFd()];
  const thread = startDeviceThread<DeviceExportConfig>(script, 'off', createLogger('off', {}));
  let frontend: VhostUserFrontend | undefined;
  try {
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a', 'f'), Buffer.alloc(CHUNK, 'f'));
    fds.push(openDir(join(dir, 'a')));
    const socketPath = join(dir, 'a.sock');
    await thread.add(
      { tag: 'a', socketPath, shmemSizes: [CHUNK] },
      exportConfig('a', fds[1] as number, fds[0] as number, true),
    );
    // The front-end's I/O timeout is below the daemon's 5 s wait for a reply: a ring stop held
    // back until that wait ran out fails the test.
    const a = VhostUserFrontend.connect({
      socketPath,
      shmemSize: CHUNK,
      backendChannel: true,
      memorySize: 16 << 20,
      timeoutMs: 4000,
    });
    frontend = a;
    const shmem = a.shmem!;
    const handle = shmem.handle.bind(shmem);
    const requestQueue = a.queue(1);
    let base = -1;
    let mapAt = -1;
    // As QEMU pausing the VM does (vhost_dev_stop): it disables and stops the request queue before
    // it gets to the SHMEM_MAP on its back-end channel, starts it again, and only then serves that map.
    shmem.handle = (msg, listener, respond): bigint => {
      if (base < 0) {
        mapAt = requestQueue.nextAvail - 1;
        a.vhostUser.set(R.SET_VRING_ENABLE, statePayload(1, 0));
        const reply = a.vhostUser.get(R.GET_VRING_BASE, statePayload(1, 0));
        base = new DataView(reply.buffer, reply.byteOffset).getUint32(4, true);
        a.restartQueue(1, base);
      }
      return handle(msg, listener, respond);
    };
    const client = new FuseClient(a);
    client.init(DEFAULT_INIT_FLAGS | InitFlag.MAP_ALIGNMENT);
    const f = client.lookup(1, 'f').nodeid;
    client.setupmapping(f, { foffset: 0, len: CHUNK, flags: READ, moffset: 0 });
    // The stop reported the map's request as not taken, and the restarted ring served it.
    expect(base).toBe(mapAt);
    // The front-end did map the chunk the first time after all. Upstream QEMU refuses a map over
    // it: the daemon takes the reply it owes as the given-up request's, unmaps and maps again.
    expect(shmem.served.map((r) => `${r.request} ${r.status}`)).toEqual(['map 0', 'map 1', 'unmap 0', 'map 0']);
    expect(shmem.view(0, 1)[0]).toBe('f'.charCodeAt(0));
  } finally {
    frontend?.close();
    await thread.stop();
    for (const fd of fds) close(fd);
    rmSync(script, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
