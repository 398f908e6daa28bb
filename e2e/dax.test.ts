// DAX in a real guest: with [daemon] dax_window_mib = 256 on our QEMU (`make vmm`), the sandbox's
// two container shares (vfslayers read-only, vfsdata read-write) get a 256 MiB window each
// (vhost-user-fs-pci cache-size), vfs-virtiofsd maps file ranges into it (SHMEM_MAP) and the agent
// mounts them dax=always, so the guest reads and writes files through mappings of the host page
// cache; with dax_min_file_kib too, dax=inode and only large files so. Real containerd 1.6 + ctr, our shim, QEMU q35 under TCG. Needs `make build runtime vmm`.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { FSTOOL_SOURCE } from '@vfs/harness/bundles';
import { BUSYBOX } from '@vfs/harness/busybox_rootfs';
import { requireOurQemu } from '@vfs/harness/our_qemu';
import { useVmSuite } from '@vfs/harness/vm_suite';
import { WarmPoolService } from '@vfs/harness/warm_pool';
import {
  expectNothingLeft,
  ok,
  recordedPid,
  sandboxDirs,
  taskIs,
  VM_IMAGE,
  VM_RUNTIME,
  waitFor,
} from '@vfs/harness/vm_checks';

jest.setTimeout(300_000);

const NS = 'vfs-dax';
const ID = 'dax1';
const WINDOW_MIB = 256;

/** A file the guest reads once: without DAX all of it lands in the guest's page cache. */
const COLD_MIB = 32;

const md5 = (data: Buffer | string): string => createHash('md5').update(data).digest('hex');

function cachedKiB(meminfo: string): number {
  const value = /^Cached:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  if (value === undefined) throw new Error(`no Cached in the guest's /proc/meminfo:\n${meminfo}`);
  return Number(value);
}

/** The guest's virtiofs mounts (tag → options) from /proc/mounts of the guest's init. */
function virtiofsMounts(procMounts: string): Map<string, string[]> {
  const mounts = new Map<string, string[]>();
  for (const line of procMounts.split('\n')) {
    const [source, , type, options] = line.split(' ');
    if (type === 'virtiofs' && source !== undefined) mounts.set(source, (options ?? '').split(','));
  }
  return mounts;
}

describe('DAX windows on the container shares, on our QEMU', () => {
  const suite = useVmSuite('dax', NS, 180_000);
  const { ctr } = suite;
  /** stdout of `argv` run in container `id`. */
  const execIn = async (id: string, execId: string, ...argv: string[]) =>
    ok(await ctr(['task', 'exec', '--exec-id', execId, id, ...argv])).stdout;
  const exec = (execId: string, ...argv: string[]) => execIn(ID, execId, ...argv);

  /** SIGKILLs container `id`'s task and removes it. */
  const removeContainer = async (id: string): Promise<void> => {
    ok(await ctr(['task', 'kill', '-s', 'SIGKILL', id]));
    await waitFor(`${id} to stop`, () => taskIs(ctr, id, 'STOPPED'));
    ok(await ctr(['task', 'rm', id]));
    ok(await ctr(['container', 'rm', id]));
  };

  /** A configuration.toml with DAX windows on our QEMU, plus `daemonExtra` lines of [daemon]. */
  const daxConfig = (name: string, qemuPath: string, daemonExtra: string): string => {
    const path = join(suite.work, name);
    writeFileSync(
      path,
      `[hypervisor]\npath = "${qemuPath}"\nmachine = "q35"\n\n[daemon]\ndax_window_mib = ${WINDOW_MIB}\n${daemonExtra}`,
    );
    return path;
  };

  /** Runs container `id` on `config` with `vol` at /vol, until it is RUNNING. */
  const runOnOurQemu = async (id: string, config: string, vol: string): Promise<void> => {
    ok(
      await ctr([
        'run',
        '-d',
        ...VM_RUNTIME,
        '--runtime-config-path',
        config,
        // The guest's pid namespace and CAP_SYS_PTRACE: /proc/1/mounts is the agent's mount table.
        '--with-ns',
        'pid:/proc/1/ns/pid',
        '--cap-add',
        'CAP_SYS_PTRACE',
        '--mount',
        `type=bind,src=${vol},dst=/vol,options=rbind:rw`,
        VM_IMAGE,
        id,
        'sleep',
        '600',
      ]),
    );
    await waitFor(`${id} to run`, () => taskIs(ctr, id, 'RUNNING'));
  };

  it('mounts both shares dax=always, and reads the image, mmap-reads, writes and mmap-writes through the windows', async () => {
    const qemuPath = requireOurQemu();
    const vol = join(suite.work, 'vol');
    mkdirSync(vol);
    const cc = spawnSync('gcc', ['-static', '-O2', '-o', join(vol, 'fstool'), FSTOOL_SOURCE], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`gcc fstool.c failed: ${cc.stderr}`);
    // Past several 2 MiB DAX ranges, with a tail that ends mid-range.
    const big = randomBytes(5 * 1024 * 1024 + 4097);
    writeFileSync(join(vol, 'big.bin'), big);
    writeFileSync(join(vol, 'small.txt'), 'x'.repeat(4096));
    writeFileSync(join(vol, 'cold.bin'), Buffer.alloc(COLD_MIB * 1024 * 1024, 'c'));
    await runOnOurQemu(ID, daxConfig('dax.toml', qemuPath, ''), vol);

    const qemuPid = recordedPid(suite.containerd, NS, ID, 'qemu');
    const qemu = readFileSync(`/proc/${qemuPid}/cmdline`, 'utf8').split('\0').join(' ');
    for (const tag of ['vfslayers', 'vfsdata']) {
      expect(qemu).toMatch(
        new RegExp(` vhost-user-fs-pci,id=fs\\d+,chardev=fs\\d+-chr,tag=${tag},cache-size=${WINDOW_MIB}M `),
      );
    }
    // The runtime comes from virtio-pmem on q35 ([agent] runtime "auto"): no runtime share, no window.
    expect(qemu.match(/cache-size=/g)).toHaveLength(2);

    const mounts = virtiofsMounts(await exec('mounts', 'cat', '/proc/1/mounts'));
    expect(mounts.get('vfslayers')).toEqual(expect.arrayContaining(['ro', 'dax=always']));
    expect(mounts.get('vfsdata')).toEqual(expect.arrayContaining(['rw', 'dax=always']));

    // Reads come from the host page cache through the window, not into the guest's.
    const before = cachedKiB(await exec('meminfo-1', 'cat', '/proc/meminfo'));
    expect(await exec('read-cold', 'sh', '-c', 'cat /vol/cold.bin | wc -c')).toBe(`${COLD_MIB * 1024 * 1024}\n`);
    const after = cachedKiB(await exec('meminfo-2', 'cat', '/proc/meminfo'));
    expect(after - before).toBeLessThan((COLD_MIB / 4) * 1024);

    // The image's read-only layer: a read and an mmap read of busybox (which every exec maps too).
    const busybox = md5(readFileSync(BUSYBOX));
    expect(await exec('read-image', 'md5sum', '/bin/busybox')).toMatch(new RegExp(`^${busybox} `));
    expect(await exec('mmap-image', 'sh', '-c', '/vol/fstool mmap-read /bin/busybox | md5sum')).toMatch(
      new RegExp(`^${busybox} `),
    );
    // The read-write share: an mmap read across several ranges, plain writes read back (in a volume,
    // which the host sees, and in the rootfs's overlay upper dir), and a shared mmap write.
    expect(await exec('mmap-big', 'sh', '-c', '/vol/fstool mmap-read /vol/big.bin | md5sum')).toMatch(
      new RegExp(`^${md5(big)} `),
    );
    expect(await exec('write-vol', 'sh', '-c', 'echo written in the guest >/vol/w.txt && cat /vol/w.txt')).toBe(
      'written in the guest\n',
    );
    expect(readFileSync(join(vol, 'w.txt'), 'utf8')).toBe('written in the guest\n');
    expect(await exec('write-upper', 'sh', '-c', 'echo in the upper dir >/upper.txt && cat /upper.txt')).toBe(
      'in the upper dir\n',
    );
    await exec('mmap-write', '/vol/fstool', 'mmap-write', '/vol/small.txt', '100', 'through the DAX window');
    const small = readFileSync(join(vol, 'small.txt'), 'utf8');
    expect(small.length).toBe(4096);
    expect(small.slice(100, 122)).toBe('through the DAX window');
    expect(small.slice(0, 100)).toBe('x'.repeat(100));

    // The reads and writes went through QEMU's window: it maps the host files themselves.
    const maps = readFileSync(`/proc/${qemuPid}/maps`, 'utf8');
    expect(maps).toMatch(/\/small\.txt$/m);
    expect(maps).toMatch(/\/big\.bin$/m);

    await removeContainer(ID);
  });

  it('with dax_min_file_kib mounts both shares dax=inode: a big file comes through the window, a small one does not', async () => {
    const qemuPath = requireOurQemu();
    const id = 'dax3';
    const vol = join(suite.work, 'vol-inode');
    mkdirSync(vol);
    const big = randomBytes(5 * 1024 * 1024 + 4097);
    writeFileSync(join(vol, 'big-inode.bin'), big);
    writeFileSync(join(vol, 'small-inode.txt'), 'y'.repeat(4096));
    await runOnOurQemu(id, daxConfig('dax-inode.toml', qemuPath, 'dax_min_file_kib = 1024\n'), vol);
    const run = (execId: string, ...argv: string[]) => execIn(id, execId, ...argv);

    const mounts = virtiofsMounts(await run('mounts', 'cat', '/proc/1/mounts'));
    expect(mounts.get('vfslayers')).toEqual(expect.arrayContaining(['ro', 'dax=inode']));
    expect(mounts.get('vfsdata')).toEqual(expect.arrayContaining(['rw', 'dax=inode']));

    expect(await run('read-big', 'md5sum', '/vol/big-inode.bin')).toMatch(new RegExp(`^${md5(big)} `));
    expect(await run('read-small', 'cat', '/vol/small-inode.txt')).toBe('y'.repeat(4096));
    // QEMU maps the big file's host pages into the window; the small one went through FUSE reads.
    const maps = readFileSync(`/proc/${recordedPid(suite.containerd, NS, id, 'qemu')}/maps`, 'utf8');
    expect(maps).toMatch(/\/big-inode\.bin$/m);
    expect(maps).not.toMatch(/\/small-inode\.txt$/m);

    await removeContainer(id);
  });

  it("fails Create with QEMU's words and the keys to change when hypervisor.path has no cache-size", async () => {
    const config = join(suite.work, 'dax-upstream.toml');
    writeFileSync(config, `[hypervisor]\npath = "qemu-system-x86_64"\n\n[daemon]\ndax_window_mib = ${WINDOW_MIB}\n`);
    const result = await ctr(['run', '--rm', ...VM_RUNTIME, '--runtime-config-path', config, VM_IMAGE, 'dax2', 'true']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /\[daemon\] dax_window_mib = 256 gives the container shares DAX windows, which QEMU \(hypervisor\.path = qemu-system-x86_64\) refused: .*cache-size.*\. Set hypervisor\.path to our QEMU \(make vmm: \/opt\/vfs\/qemu\/bin\/qemu-system-x86_64\), or dax_window_mib = 0/,
    );
    await ctr(['container', 'rm', 'dax2']);
  });

  it('a warm pool with DAX hands out a booted VM whose container shares are mounted dax=always', async () => {
    const config = daxConfig('dax-pool.toml', requireOurQemu(), '');
    const pool = await WarmPoolService.start(suite.containerd.runDir, 1, join(suite.work, 'pool.log'), {
      VFS_CONFIG: config,
    });
    try {
      const [vm] = await pool.ready(1);
      const pooledQemu = (await pool.status()).vms.find((v) => v.id === vm)?.qemuPid;
      const vol = join(suite.work, 'vol-pool');
      mkdirSync(vol);
      writeFileSync(join(vol, 'f.txt'), 'from the host');
      const id = 'dax4';
      await runOnOurQemu(id, config, vol);
      expect(recordedPid(suite.containerd, NS, id, 'qemu')).toBe(pooledQemu);
      const run = (execId: string, ...argv: string[]) => execIn(id, execId, ...argv);
      const mounts = virtiofsMounts(await run('mounts', 'cat', '/proc/1/mounts'));
      expect(mounts.get('vfslayers')).toEqual(expect.arrayContaining(['ro', 'dax=always']));
      expect(mounts.get('vfsdata')).toEqual(expect.arrayContaining(['rw', 'dax=always']));
      expect(await run('read', 'cat', '/vol/f.txt')).toBe('from the host');
      await removeContainer(id);
    } finally {
      await pool.stop();
    }
  });

  it('leaves no process, mount, socket or state dir behind', async () => {
    await waitFor(
      'all sandboxes to go',
      async () => (sandboxDirs(suite.containerd, NS).length === 0 ? true : undefined),
      15_000,
    );
    expectNothingLeft(suite.containerd, NS);
  });
});
