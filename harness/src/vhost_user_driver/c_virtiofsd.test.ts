// The front-end driver talks to the C daemon from qemu-system-common exactly as it talks to ours:
// vhost-user set-up plus one hand-built FUSE_INIT on the request queue.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hostPrograms } from '../host_programs';
import { tempDir } from '../temp_dir';
import { VhostUserFrontend } from './frontend';
import { REQUEST_QUEUE } from './transport';

const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const FUSE_INIT = 26;
const IN_HEADER = 40;
const OUT_HEADER = 16;

function fuseInit(unique: number): Uint8Array {
  const req = new Uint8Array(IN_HEADER + 16);
  const v = new DataView(req.buffer);
  v.setUint32(0, req.length, true);
  v.setUint32(4, FUSE_INIT, true);
  v.setBigUint64(8, BigInt(unique), true);
  v.setUint32(IN_HEADER, 7, true); // major
  v.setUint32(IN_HEADER + 4, 31, true); // minor
  v.setUint32(IN_HEADER + 8, 0x20000, true); // max_readahead
  return req;
}

hostPrograms(VIRTIOFSD).describe('/usr/lib/qemu/virtiofsd through the front-end driver', () => {
  let dir: string;
  let child: ChildProcess;
  let stderr = '';
  let frontend: VhostUserFrontend | null = null;

  beforeAll(() => {
    dir = tempDir('vfs-c-virtiofsd');
    const source = join(dir, 'source');
    mkdirSync(source);
    child = spawn(
      VIRTIOFSD,
      [
        `--socket-path=${join(dir, 'vhost.sock')}`,
        '-o',
        `source=${source}`,
        '-o',
        'cache=auto',
        '-o',
        'sandbox=chroot',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  });

  afterAll(() => {
    frontend?.close();
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('sets up vhost-user and answers FUSE_INIT', () => {
    frontend = VhostUserFrontend.connect({
      socketPath: join(dir, 'vhost.sock'),
      eventIdx: true,
      indirect: true,
      memoryMode: 'slots',
      memoryRegions: 2,
    });
    const reply = frontend.call(REQUEST_QUEUE, { readable: [fuseInit(1)], writableLen: 4096 });
    const v = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
    expect({
      len: v.getUint32(0, true),
      error: v.getInt32(4, true),
      stderr: v.getInt32(4, true) === 0 ? '' : stderr,
    }).toEqual({
      len: reply.length,
      error: 0,
      stderr: '',
    });
    expect(Number(v.getBigUint64(8, true))).toBe(1);
    expect(v.getUint32(OUT_HEADER, true)).toBe(7);
    expect(v.getUint32(OUT_HEADER + 4, true)).toBeGreaterThanOrEqual(31);
  });
});
