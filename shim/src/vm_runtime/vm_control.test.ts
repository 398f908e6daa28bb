import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { hostPrograms } from '@vfs/harness/host_programs';
import { FakeQmpServer } from '../vm/qmp_fake_server';
import { launchQemu, type RunningQemu } from '../vm/qemu_process';
import { controlVm } from './vm_control';

const log = pino({ level: 'silent' });

// /bin/sh stands in for QEMU's process and the fake server for its monitor: what is tested is
// the shim's side — connect, the death signals, quit with the SIGKILL fallback.
describe('controlVm with a stand-in QEMU', () => {
  let dir: string;
  let server: FakeQmpServer | undefined;
  let qemu: RunningQemu | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-vm-control-'));
  });
  afterEach(async () => {
    await qemu?.stop(0);
    await server?.close();
    qemu = undefined;
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const sleeper = async (script = 'sleep 30'): Promise<RunningQemu> => {
    qemu = await launchQemu({ binary: '/bin/sh', args: ['-c', script], stderrLogPath: join(dir, 'stderr') });
    return qemu;
  };

  it('quits over QMP and SIGKILLs the PID when the process outlives the grace', async () => {
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'), {
      'query-status': () => ({ return: { status: 'running', running: true } }),
    });
    const vm = await controlVm(await sleeper(), server.path, log);
    await expect(vm.queryStatus()).resolves.toEqual({ status: 'running', running: true });
    const started = Date.now();
    await expect(vm.stop(200)).resolves.toMatchObject({ signal: 'SIGKILL' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(server.received.map((r) => r.execute)).toEqual(['qmp_capabilities', 'query-status', 'quit']);
    await expect(vm.gone).resolves.toMatch(/shutting down \(host-qmp-quit\)/);
  });

  it('kills at once without quit when asked to, and a later stop resolves with that exit', async () => {
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'));
    const vm = await controlVm(await sleeper(), server.path, log);
    await expect(vm.kill()).resolves.toMatchObject({ signal: 'SIGKILL' });
    await expect(vm.stop(5000)).resolves.toMatchObject({ signal: 'SIGKILL' });
    expect(server.received.map((r) => r.execute)).toEqual(['qmp_capabilities']);
  });

  it('reports QEMU going away through QMP before the process exit', async () => {
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'), { 'query-status': () => undefined });
    const vm = await controlVm(await sleeper(), server.path, log);
    server.emitEvent('SHUTDOWN', { guest: true, reason: 'guest-reset' });
    await expect(vm.gone).resolves.toBe('QEMU is shutting down (guest-reset)');
    await expect(vm.queryStatus()).rejects.toThrow(/query-status: no answer within 1000 ms/);
  });

  it('reports the process exit when QMP says nothing', async () => {
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'));
    const vm = await controlVm(await sleeper('sleep 0.2; echo dying >&2; exit 9'), server.path, log);
    await expect(vm.gone).resolves.toBe('QEMU exited (code 9): dying');
  });

  it("fails with QEMU's exit when it dies before its QMP socket answers", async () => {
    const stand = await sleeper('echo "qemu: cannot set up guest memory" >&2; exit 1');
    await expect(controlVm(stand, join(dir, 'never.sock'), log)).rejects.toThrow(
      /gave up connecting .*QEMU exited \(code 1\): qemu: cannot set up guest memory/,
    );
  });
});

hostPrograms('qemu-system-x86_64').describe('controlVm with qemu-system-x86_64', () => {
  jest.setTimeout(30_000);

  it('stops a real QEMU with quit: exit code 0, no SIGKILL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfs-vm-control-qemu-'));
    const socket = join(dir, 'qmp.sock');
    const qemu = await launchQemu({
      args: [
        '-M',
        'microvm',
        '-nodefaults',
        '-no-user-config',
        '-nographic',
        '-S',
        '-chardev',
        `socket,id=qmp-chr,path=${socket},server=on,wait=off`,
        '-mon',
        'chardev=qmp-chr,mode=control',
      ],
      stderrLogPath: join(dir, 'qemu.stderr'),
      cleanupPaths: [socket],
    });
    try {
      const vm = await controlVm(qemu, socket, log);
      await expect(vm.queryStatus()).resolves.toEqual({ status: 'prelaunch', running: false });
      await expect(vm.stop(5000)).resolves.toMatchObject({ code: 0, signal: null });
    } finally {
      await qemu.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
