// Two containers at once through the real stack (containerd 1.6, ctr, our shim, QEMU under TCG):
// two `ctr run -d` are two sandboxes, so two shims, two VMs and two daemons run side by side.
// Each answers an exec from its own kernel (a different boot_id, neither the host's), both are
// RUNNING together, and killing and removing both stops each QEMU with QMP `quit` (exit code 0)
// and leaves no QEMU, daemon, mount or socket.
// Needs `make build runtime`.

import { readFileSync } from 'node:fs';
import { useVmSuite } from '@vfs/harness/vm_suite';
import { guestKernelRelease } from '@vfs/harness/guest_vm';
import {
  expectNothingLeft,
  ok,
  pidAlive,
  recordedPid,
  sandboxDirs,
  taskIs,
  VM_IMAGE,
  VM_RUNTIME,
  waitFor,
} from '@vfs/harness/vm_checks';

jest.setTimeout(180_000);

const NS = 'vfs-two';
const IDS = ['twin-a', 'twin-b'];

describe('two sandboxes at once with containerd 1.6', () => {
  const suite = useVmSuite('two', NS);
  const { ctr } = suite;

  it('runs two containers in two VMs side by side, each answering exec from its own kernel, and cleans both up', async () => {
    await Promise.all(IDS.map(async (id) => ok(await ctr(['run', '-d', ...VM_RUNTIME, VM_IMAGE, id, 'sleep', '600']))));
    for (const id of IDS) await waitFor(`${id} to run`, () => taskIs(ctr, id, 'RUNNING'));

    const processes = IDS.flatMap((id) =>
      ['qemu', 'virtiofsd'].map((name) => recordedPid(suite.containerd, NS, id, name)),
    );
    expect(new Set(processes).size).toBe(4);
    expect(processes.filter(pidAlive)).toEqual(processes);

    const bootIds = await Promise.all(
      IDS.map(
        async (id) =>
          ok(
            await ctr([
              'task',
              'exec',
              '--exec-id',
              `boot-${id}`,
              id,
              'sh',
              '-c',
              'uname -r; cat /proc/sys/kernel/random/boot_id',
            ]),
          ).stdout,
      ),
    );
    const [a, b] = bootIds.map((out) => out.trim().split('\n'));
    expect(a?.[0]).toBe(guestKernelRelease());
    expect(b?.[0]).toBe(guestKernelRelease());
    const hostBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    expect(a?.[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set([a?.[1], b?.[1], hostBootId]).size).toBe(3);

    for (const id of IDS) ok(await ctr(['task', 'kill', '-s', 'SIGKILL', id]));
    for (const id of IDS) {
      await waitFor(`${id} to stop`, () => taskIs(ctr, id, 'STOPPED'));
      ok(await ctr(['task', 'rm', id]));
      ok(await ctr(['container', 'rm', id]));
    }
    await waitFor(
      'both sandboxes to go',
      async () => (sandboxDirs(suite.containerd, NS).length === 0 ? true : undefined),
      15_000,
    );
    expect(processes.filter(pidAlive)).toEqual([]);
    // Each shim killed its own QEMU at once (a sandbox being destroyed keeps nothing of its guest).
    const stops = readFileSync(suite.containerd.logPath, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"msg":"QEMU killed"'));
    for (const id of IDS)
      expect(stops.filter((line) => line.includes(`"sandbox":"${id}"`)).join('\n')).toContain(
        '"exit":"QEMU exited (SIGKILL)"',
      );
    expectNothingLeft(suite.containerd, NS);
  });
});
