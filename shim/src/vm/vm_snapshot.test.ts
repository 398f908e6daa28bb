import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPrograms } from '@vfs/harness/host_programs';
import { QmpClient } from './qmp';
import { FakeQmpServer, type FakeHandler } from './qmp_fake_server';
import { launchQemu, type RunningQemu } from './qemu_process';
import { loadVmState, saveVmState } from './vm_snapshot';

describe('saving and loading VM state against a fake QMP server', () => {
  let dir: string;
  let server: FakeQmpServer | undefined;
  let client: QmpClient | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-snapshot-test-'));
  });
  afterEach(async () => {
    client?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (migration: () => ReturnType<FakeHandler>): Promise<QmpClient> => {
    const answer = (): ReturnType<FakeHandler> => ({ return: {} });
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'), {
      stop: answer,
      cont: answer,
      'migrate-set-capabilities': answer,
      migrate: answer,
      'migrate-incoming': answer,
      'query-migrate': migration,
    });
    client = await QmpClient.connect(server.path, { timeoutMs: 2000 });
    return client;
  };

  it('pauses, leaves shared RAM out, migrates to the file and waits until it completed', async () => {
    let polls = 0;
    const qmp = await start(() => ({ return: { status: ++polls < 3 ? 'active' : 'completed' } }));
    await saveVmState(qmp, '/run/t/state', 1000);
    const sent = server?.received.slice(1).map((r) => [r.execute, r.arguments]);
    expect(sent?.slice(0, 3)).toEqual([
      ['stop', undefined],
      ['migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] }],
      ['migrate', { uri: 'exec:cat > /run/t/state' }],
    ]);
    expect(polls).toBe(3);
  });

  it('runs the VM only once the state has loaded', async () => {
    const qmp = await start(() => ({ return: { status: 'completed' } }));
    await loadVmState(qmp, '/run/t/state', 1000);
    expect(server?.received.slice(1).map((r) => r.execute)).toEqual([
      'migrate-set-capabilities',
      'migrate-incoming',
      'query-migrate',
      'cont',
    ]);
    expect(server?.received[2]?.arguments).toEqual({ uri: 'exec:cat /run/t/state' });
  });

  it("fails with QEMU's reason, and does not run a VM whose state did not load", async () => {
    const qmp = await start(() => ({
      return: { status: 'failed', 'error-desc': 'load of migration failed: Invalid argument' },
    }));
    await expect(loadVmState(qmp, '/run/t/state', 1000)).rejects.toThrow(
      'load the VM state from /run/t/state: migration failed: load of migration failed: Invalid argument',
    );
    expect(server?.received.map((r) => r.execute)).not.toContain('cont');
  });

  it('gives up after the timeout, naming the status', async () => {
    const qmp = await start(() => ({ return: { status: 'active' } }));
    await expect(saveVmState(qmp, '/run/t/state', 50)).rejects.toThrow(/not done within 50 ms \(status active\)/);
  });

  it('refuses a path the shell would read as more than a path', async () => {
    const qmp = await start(() => ({ return: { status: 'completed' } }));
    for (const path of ['relative/state', '/run/t/state; rm -rf /', '/run/t/$(id)', '/run/t/a b'])
      await expect(saveVmState(qmp, path, 1000)).rejects.toThrow(/only absolute paths/);
    expect(server?.received.map((r) => r.execute)).toEqual(['qmp_capabilities']);
  });
});

hostPrograms('qemu-system-x86_64').describe('saving and loading VM state with qemu-system-x86_64', () => {
  jest.setTimeout(60_000);
  let dir: string;
  const running: RunningQemu[] = [];
  const clients: QmpClient[] = [];
  beforeEach(() => {
    // Guest RAM in a shared tmpfs file, as a template's.
    dir = mkdtempSync('/dev/shm/vfs-snapshot-qemu-');
  });
  afterEach(async () => {
    for (const qmp of clients.splice(0)) qmp.close();
    for (const qemu of running.splice(0)) await qemu.stop(0);
    rmSync(dir, { recursive: true, force: true });
  });

  const qemu = async (name: string, extra: readonly string[]): Promise<QmpClient> => {
    const socket = join(dir, `${name}.qmp`);
    running.push(
      await launchQemu({
        args: [
          '-M',
          'q35,memory-backend=mem',
          '-accel',
          'tcg',
          '-m',
          '64M',
          '-object',
          `memory-backend-file,id=mem,size=64M,mem-path=${join(dir, 'memory')},share=on`,
          '-nodefaults',
          '-no-user-config',
          '-nographic',
          '-S',
          '-device',
          'virtio-serial-pci,id=vser0',
          '-chardev',
          `socket,id=qmp-chr,path=${socket},server=on,wait=off`,
          '-mon',
          'chardev=qmp-chr,mode=control',
          ...extra,
        ],
        stderrLogPath: join(dir, `${name}.stderr`),
      }),
    );
    const qmp = await QmpClient.connect(socket, { timeoutMs: 10_000 });
    clients.push(qmp);
    return qmp;
  };

  it('saves a paused VM without its shared RAM, and a second QEMU resumes it', async () => {
    const first = await qemu('first', []);
    const state = join(dir, 'state');
    await saveVmState(first, state, 30_000);
    // Device state only: the 64 MiB of RAM stay in their file.
    expect(statSync(state).size).toBeLessThan(4 * 1024 * 1024);
    expect((await first.queryStatus()).status).toBe('postmigrate');
    await first.quit();

    const second = await qemu('second', ['-incoming', 'defer']);
    expect((await second.queryStatus()).status).toBe('inmigrate');
    await loadVmState(second, state, 30_000);
    expect(await second.queryStatus()).toEqual({ status: 'running', running: true });
  });

  it('fails to load the state of a VM with a device this one lacks, and never runs it', async () => {
    const first = await qemu('first', ['-device', 'virtio-balloon-pci,id=extra']);
    const state = join(dir, 'state');
    await saveVmState(first, state, 30_000);
    await first.quit();
    const second = await qemu('second', ['-incoming', 'defer']);
    await expect(loadVmState(second, state, 30_000)).rejects.toThrow();
    expect(readFileSync(join(dir, 'second.stderr'), 'utf8')).toMatch(/load of migration failed/);
  });
});
