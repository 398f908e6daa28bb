// The warm pool (vfs-runtime pool serve) through the real stack: containerd 1.6, ctr, our shim,
// QEMU under TCG. A container's sandbox takes a booted VM from the pool (the shim adopts its QEMU
// and daemon), the pool boots a fresh one in its place, no VM is handed out twice, a shim with
// another configuration boots its own, and stopping the service — or restarting one that was
// killed — leaves nothing behind. Its spare shims: the sandbox's shim is one the pool started, which
// containerd's start claimed.
// Needs `make build runtime`.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_PORT_CLOSED, PoolClient, poolSocket, spareShimsDir } from '@vfs/contracts';
import { PrivateContainerd, type CtrResult, mountsUnder } from '@vfs/harness/containerd';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { bundleShim } from '@vfs/harness/bundles';
import {
  expectNothingLeft,
  ok,
  pidAlive,
  recordedPid,
  taskIs,
  VM_IMAGE,
  VM_RUNTIME,
  waitFor,
} from '@vfs/harness/vm_checks';
import { WarmPoolService } from '@vfs/harness/warm_pool';
import { cgroupPathsOf, childPids } from '@vfs/harness/process';
import { guestKernelRelease } from '@vfs/harness/guest_vm';

jest.setTimeout(300_000);

const NS = 'vfs-pool';

describe('the warm pool with containerd 1.6', () => {
  let work: string;
  let containerd: PrivateContainerd;
  let pool: WarmPoolService | undefined;
  const ctr = (args: readonly string[]): Promise<CtrResult> =>
    containerd.ctr(args, { namespace: NS, timeoutMs: 120_000 });
  const poolDirs = (): string[] => {
    const dir = join(containerd.runDir, 'pool');
    return existsSync(dir) ? readdirSync(dir) : [];
  };
  /** The pool's unclaimed spare shims: each has a dir under <run>/spare-shims and a process `… -id ID spare`. */
  const spareShimPids = (): number[] => {
    const dir = spareShimsDir(containerd.runDir);
    const ids = existsSync(dir) ? readdirSync(dir).map((name) => name.split('.')[0]) : [];
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .filter((pid) => {
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
          return argv.at(-2) === 'spare' && ids.includes(argv.at(-3) ?? '');
        } catch {
          return false;
        }
      });
  };
  const startPool = async (): Promise<WarmPoolService> => {
    pool = await WarmPoolService.start(containerd.runDir, 1, join(work, 'pool.log'));
    return pool;
  };

  beforeAll(async () => {
    bundleShim();
    work = mkdtempSync('/tmp/vfs-e2e-pool-');
    containerd = await PrivateContainerd.start();
    ok(await ctr(['images', 'import', buildBusyboxImage(work, VM_IMAGE)]));
  });

  afterAll(async () => {
    await pool?.stop();
    await containerd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('hands a booted VM to a new sandbox, whose shim adopts its processes, and boots a fresh one in its place', async () => {
    const service = await startPool();
    const [first] = await service.ready(1);
    const before = await service.status();
    const pooledQemu = before.vms.find((vm) => vm.id === first)?.qemuPid;

    ok(await ctr(['run', '-d', ...VM_RUNTIME, VM_IMAGE, 'pooled', 'sleep', '600']));
    await waitFor('pooled to run', () => taskIs(ctr, 'pooled', 'RUNNING'));
    // The sandbox's QEMU is the pool's: adopted, not booted.
    expect(recordedPid(containerd, NS, 'pooled', 'qemu')).toBe(pooledQemu);
    // Moved, with the daemon and the shim, into the sandbox's cgroup (ctr's /<namespace>/<id>).
    const pooledDaemon = recordedPid(containerd, NS, 'pooled', 'virtiofsd');
    for (const pid of [pooledQemu as number, pooledDaemon, ...childPids(pooledDaemon)])
      expect(new Set(cgroupPathsOf(pid))).toEqual(new Set([`/${NS}/pooled`]));
    // Its shim is the pool's too: a spare that containerd's start claimed instead of starting Node.
    const shim = recordedPid(containerd, NS, 'pooled', 'shim');
    expect(service.log()).toContain(`"pid":${shim},"msg":"spare shim claimed"`);
    expect(spareShimPids()).not.toContain(shim);
    const exec = ok(await ctr(['task', 'exec', '--exec-id', 'e1', 'pooled', 'uname', '-r']));
    expect(exec.stdout.trim()).toBe(guestKernelRelease());
    // The pool's agent connection went on to the shim: the guest never saw its host leave, so its
    // agent never closed and reopened its port (a call sent meanwhile was dropped, now and then),
    // nor when the pool's copy closed, 1 s after the take.
    const shimLog = readFileSync(containerd.logPath, 'utf8');
    expect(shimLog).toContain('"agentConnection":"handed over"');
    // On that connection CreateSandbox was the first call, standing in for Check (agent_dial.ts);
    // the second line is the shim's debug level, which it logs at under this debug containerd.
    expect(shimLog).toContain('"msg":"guest agent is serving (its first call answered)"');
    expect(shimLog).toMatch(/"firstCall":true,"msg":"sandbox created in the guest"/);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const consoleDir = join(containerd.runDir, 'pool', first as string, 'console');
    const guestConsole = readFileSync(join(consoleDir, 'console.log'), 'utf8');
    // The console log is on a tmpfs of its own, capped: a guest flooding its console fills that only.
    const consoleMount = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((line) => line.split(' ')[4] === consoleDir);
    expect(consoleMount).toMatch(/ - tmpfs vfs rw,.*size=4096k/);
    // Before offering the VM, the pool ran its warm-up container through the agent's API and removed it.
    const warmUpLines = guestConsole.split('\n').filter((line) => line.includes('"container":"vfs-warm-up-'));
    expect(warmUpLines.some((line) => line.includes('"msg":"container created"'))).toBe(true);
    expect(warmUpLines.some((line) => line.includes('"msg":"container removed"'))).toBe(true);
    expect(guestConsole).not.toContain(AGENT_PORT_CLOSED);

    // The pool refills with a new VM and never lists the handed-out one again.
    const [second] = await service.ready(1);
    expect(second).not.toBe(first);
    const after = await service.status();
    expect(after.handedOut).toBe(1);
    expect(after.vms.map((vm) => vm.id)).not.toContain(first);
    await waitFor("the claimed spare's replacement", async () =>
      (await service.status()).spareShims === 1 ? true : undefined,
    );

    const daemon = recordedPid(containerd, NS, 'pooled', 'virtiofsd');
    ok(await ctr(['task', 'kill', '-s', 'SIGKILL', 'pooled']));
    await waitFor('pooled to stop', () => taskIs(ctr, 'pooled', 'STOPPED'));
    ok(await ctr(['task', 'rm', 'pooled']));
    ok(await ctr(['container', 'rm', 'pooled']));
    // The adopting shim stopped the pooled VM and removed the pool's files for it.
    await waitFor('the adopted VM to go', () =>
      !pidAlive(pooledQemu as number) && !pidAlive(daemon) ? true : undefined,
    );
    expect(poolDirs()).toEqual([second]);
    expect(containerd.logPath && service.log()).toContain('"msg":"pool VM handed over"');
  });

  it('never hands a VM out twice: back-to-back containers each get their own', async () => {
    const service = pool as WarmPoolService;
    const [ready] = await service.ready(1);
    const runs = await Promise.all(
      ['once-a', 'once-b'].map((id) =>
        ctr(['run', '--rm', ...VM_RUNTIME, VM_IMAGE, id, 'cat', '/proc/sys/kernel/random/boot_id']),
      ),
    );
    const bootIds = runs.map((run) => ok(run).stdout.trim());
    expect(new Set(bootIds).size).toBe(2);
    // One of them got the ready VM; the other found the pool empty (or refilled) and booted or took another.
    const handed = [
      ...service.log().matchAll(/"poolVm":"([0-9a-f]+)","takenBy":"([^"]+)","msg":"pool VM handed over"/g),
    ];
    const ids = handed.map((m) => m[1] as string);
    expect(ids).toContain(ready);
    expect(new Set(ids).size).toBe(ids.length);
    // Every take was adopted: no shim fell back to booting its own after taking a VM.
    expect(readFileSync(containerd.logPath, 'utf8')).not.toContain('adopting the pooled VM failed');
    // Each adopting shim removed its VM's files when its container went.
    await waitFor("the adopted VMs' dirs to go", () =>
      poolDirs().some((dir) => ids.includes(dir)) ? undefined : true,
    );
  });

  it('keeps its VM for a shim with another configuration, which boots its own', async () => {
    const service = pool as WarmPoolService;
    const [ready] = await service.ready(1);
    const client = await PoolClient.connect(poolSocket(containerd.runDir));
    try {
      const taken = await client.take('another-configuration', 'stranger');
      expect(taken.vm).toBeUndefined();
      expect(taken).toEqual({ reason: expect.stringMatching(/another configuration/) });
    } finally {
      client.close();
    }
    expect((await service.status()).vms.map((vm) => vm.id)).toContain(ready);
  });

  it('stops its VMs when stopped, and a pool started after one was killed stops the VMs it left', async () => {
    const killed = pool as WarmPoolService;
    await killed.ready(1);
    const orphan = (await killed.status()).vms[0]?.qemuPid as number;
    await waitFor('a spare shim', () => (spareShimPids().length === 1 ? true : undefined));
    const spares = spareShimPids();
    expect(await killed.stop('SIGKILL')).toBeNull();
    expect(pidAlive(orphan)).toBe(true);
    // Its spare shims saw their pool go and retired.
    await waitFor('the spares of the killed pool to go', () => (spares.some(pidAlive) ? undefined : true));
    expect(readdirSync(spareShimsDir(containerd.runDir))).toEqual([]);

    const service = await startPool();
    expect(pidAlive(orphan)).toBe(false);
    const [fresh] = await service.ready(1);
    const qemu = (await service.status()).vms[0]?.qemuPid as number;
    expect(poolDirs()).toEqual([fresh]);

    await waitFor('a spare shim', () => (spareShimPids().length === 1 ? true : undefined));
    const running = spareShimPids();
    expect(await service.stop()).toBe(0);
    expect(pidAlive(qemu)).toBe(false);
    expect(running.filter(pidAlive)).toEqual([]);
    expect(existsSync(spareShimsDir(containerd.runDir))).toBe(false);
    expect(poolDirs()).toEqual([]);
    expect(existsSync(poolSocket(containerd.runDir))).toBe(false);
    expect(mountsUnder(containerd.runDir)).toEqual([]);
    expectNothingLeft(containerd, NS);
  });
});
