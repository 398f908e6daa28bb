// The guest runtime from build/runtime.pmem ([agent] runtime = "pmem") through the real stack
// (containerd 1.6, ctr, our shim, QEMU q35 under TCG): QEMU maps the file read-only and shared as a
// virtio-pmem device, the guest's nd_pfn probe finds the pfn info block and makes the namespace
// fsdax, and /init mounts /dev/pmem0 as erofs with dax, so Node runs from the host page cache.
// Needs `make build runtime`.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNTIME_MOUNT } from '@vfs/contracts';
import { useVmSuite } from '@vfs/harness/vm_suite';
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

jest.setTimeout(240_000);

const NS = 'vfs-pmem';
const PMEM_CONFIG = '[hypervisor]\nmachine = "q35"\n\n[agent]\nruntime = "pmem"\n';
/**
 * The guest's page cache outside tmpfs (Cached − Shmem) once the agent runs. Node's start reads ≈ 43
 * MiB of its binary, which a guest without DAX holds there (share: 43 MiB, measured); with DAX it
 * stays on the device. Also fails when the image's files are not DAX-mappable (erofs maps only
 * flat-plain files, hence mkfs.erofs -E noinline_data).
 */
const MAX_GUEST_FILE_CACHE_KIB = 16 * 1024;

function meminfoKiB(meminfo: string, field: string): number {
  const value = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(meminfo)?.[1];
  if (value === undefined) throw new Error(`no ${field} in the guest's /proc/meminfo:\n${meminfo}`);
  return Number(value);
}

/** QEMU's mapping of the pmem file: its permissions and how much of it is resident (KiB). */
function pmemMapping(qemuPid: number): { perms: string; rssKiB: number } {
  const smaps = readFileSync(`/proc/${qemuPid}/smaps`, 'utf8');
  const entry = /^[0-9a-f]+-[0-9a-f]+ (\S+) .*\/build\/runtime\.pmem\n(?:(?![0-9a-f]+-).*\n)*?Rss:\s+(\d+) kB/m.exec(
    smaps,
  );
  if (entry === null) throw new Error(`QEMU ${qemuPid} has no mapping of build/runtime.pmem`);
  return { perms: entry[1] as string, rssKiB: Number(entry[2]) };
}

/** QEMU's mappings of its guest RAM, the memfd backend, with their Rss. */
const GUEST_RAM_RSS =
  /^[0-9a-f]+-[0-9a-f]+ .*\/memfd:memory-backend-memfd \(deleted\)\n(?:(?![0-9a-f]+-).*\n)*?Rss:\s+(\d+) kB/gm;

/** QEMU's resident guest RAM, KiB. */
function guestRamRssKiB(qemuPid: number): number {
  const entries = [...readFileSync(`/proc/${qemuPid}/smaps`, 'utf8').matchAll(GUEST_RAM_RSS)];
  if (entries.length === 0) throw new Error(`QEMU ${qemuPid} has no mapping of its guest RAM (memfd)`);
  return entries.reduce((sum, entry) => sum + Number(entry[1]), 0);
}

/**
 * What the guest writes to its tmpfs and then deletes. It is held until deleted (so its arrival
 * in QEMU's RSS can be seen), and fits the container's 64 MiB /dev/shm.
 */
const FILL_MIB = 48;

describe('the guest runtime on a read-only virtio-pmem device with DAX', () => {
  const suite = useVmSuite('pmem', NS, 120_000);
  const { ctr } = suite;

  it('runs a container whose agent started from /dev/pmem0 mounted erofs with dax, Node outside the guest page cache, the file mapped read-only, and hands guest-freed RAM back to the host', async () => {
    const config = join(suite.work, 'pmem.toml');
    writeFileSync(config, PMEM_CONFIG);
    ok(await ctr(['run', '-d', ...VM_RUNTIME, '--runtime-config-path', config, VM_IMAGE, 'pmem1', 'sleep', '600']));
    await waitFor('pmem1 to run', () => taskIs(ctr, 'pmem1', 'RUNNING'));
    // A container sees the guest's /proc/meminfo: Node is not in its page cache.
    const meminfo = ok(await ctr(['task', 'exec', '--exec-id', 'x1', 'pmem1', 'cat', '/proc/meminfo'])).stdout;
    expect(meminfoKiB(meminfo, 'Cached') - meminfoKiB(meminfo, 'Shmem')).toBeLessThan(MAX_GUEST_FILE_CACHE_KIB);

    const qemuPid = recordedPid(suite.containerd, NS, 'pmem1', 'qemu');
    const qemu = readFileSync(`/proc/${qemuPid}/cmdline`, 'utf8').split('\0').join(' ');
    expect(qemu).toMatch(
      / memory-backend-file,id=rt-mem,mem-path=\S*\/build\/runtime\.pmem,size=\d+,share=on,readonly=on,align=2097152 /,
    );
    expect(qemu).toMatch(/ virtio-pmem-pci,id=rt,memdev=rt-mem /);
    expect(qemu).toMatch(/ vfs\.runtime_pmem=1 /);
    expect(qemu).not.toMatch(/,tag=vfsruntime\b/);

    const console = readFileSync(
      join(suite.containerd.runDir, 'sandboxes', NS, 'pmem1', 'console', 'console.log'),
      'utf8',
    );
    const mount = RUNTIME_MOUNT.exec(console)?.groups;
    expect({ source: mount?.source, fs: mount?.fs }).toEqual({ source: '/dev/pmem0', fs: 'erofs' });
    expect(mount?.options?.split(',')).toEqual(expect.arrayContaining(['ro', 'nodev', 'nosuid', 'dax=always']));

    // Shared, never writable: every sandbox maps this one file. The guest's Node came through it.
    const mapping = pmemMapping(qemuPid);
    expect(mapping.perms).toBe('r--s');
    expect(mapping.rssKiB).toBeGreaterThan(10 * 1024);

    // Free page reporting ([hypervisor] reclaim_guest_freed_memory, on by default): pages the guest
    // frees go back to the host. Without the balloon device, its driver in the initramfs or QEMU's
    // discard, QEMU keeps the deleted file's pages resident and the last wait times out.
    expect(qemu).toMatch(/ virtio-balloon-pci,id=balloon,free-page-reporting=on /);
    const before = guestRamRssKiB(qemuPid);
    const fill = `dd if=/dev/zero of=/dev/shm/fill bs=1M count=${FILL_MIB} 2>/dev/null`;
    ok(await ctr(['task', 'exec', '--exec-id', 'x2', 'pmem1', 'sh', '-c', fill]));
    const filled = guestRamRssKiB(qemuPid);
    expect(filled - before).toBeGreaterThan((FILL_MIB - 8) * 1024);
    ok(await ctr(['task', 'exec', '--exec-id', 'x3', 'pmem1', 'rm', '/dev/shm/fill']));
    // Most of it, not all: the guest reports only free 2 MiB blocks, and on a loaded host it may
    // have reused some of the freed pages before it reports them.
    await waitFor(
      'QEMU to discard the guest RAM the guest freed',
      () => filled - guestRamRssKiB(qemuPid) > (FILL_MIB / 2) * 1024,
      60_000,
    );

    ok(await ctr(['task', 'kill', '-s', 'SIGKILL', 'pmem1']));
    await waitFor('pmem1 to stop', () => taskIs(ctr, 'pmem1', 'STOPPED'));
    ok(await ctr(['task', 'rm', 'pmem1']));
    ok(await ctr(['container', 'rm', 'pmem1']));
  });

  it('fails Create on the microvm-pcie machine with the config key and the reason', async () => {
    const config = join(suite.work, 'pmem-microvm.toml');
    writeFileSync(config, '[hypervisor]\nmachine = "microvm-pcie"\n\n[agent]\nruntime = "pmem"\n');
    const result = await ctr([
      'run',
      '--rm',
      ...VM_RUNTIME,
      '--runtime-config-path',
      config,
      VM_IMAGE,
      'pmem2',
      'true',
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/agent\.runtime: "pmem" needs \[hypervisor\] machine = "q35", not "microvm-pcie"/);
    await ctr(['container', 'rm', 'pmem2']);
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
