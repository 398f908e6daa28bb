import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPrograms } from '@vfs/harness/host_programs';
import { QmpClient, QmpError, type QmpEvent } from './qmp';
import { FakeQmpServer, type FakeHandler } from './qmp_fake_server';
import { launchQemu, type RunningQemu } from './qemu_process';

describe('QmpClient against a fake QMP server', () => {
  let dir: string;
  let server: FakeQmpServer | undefined;
  let client: QmpClient | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-qmp-test-'));
  });
  afterEach(async () => {
    client?.close();
    await server?.close();
    client = undefined;
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (handlers: Readonly<Record<string, FakeHandler>> = {}): Promise<QmpClient> => {
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'), handlers);
    client = await QmpClient.connect(server.path, { timeoutMs: 2000 });
    return client;
  };

  it('reads the greeting and negotiates capabilities before anything else', async () => {
    const qmp = await start();
    expect(qmp.greeting.version.qemu).toEqual({ major: 7, minor: 2, micro: 0 });
    expect(server?.received).toEqual([{ execute: 'qmp_capabilities' }]);
  });

  it('resolves a command with its return and sends its arguments', async () => {
    const qmp = await start({
      'query-status': () => ({ return: { status: 'running', singlestep: false, running: true } }),
      device_del: () => ({ return: {} }),
    });
    await expect(qmp.queryStatus()).resolves.toEqual({ status: 'running', running: true });
    await expect(qmp.execute('device_del', { id: 'fs1' })).resolves.toEqual({});
    expect(server?.received.at(-1)).toEqual({ execute: 'device_del', arguments: { id: 'fs1' } });
  });

  it("rejects a refused command with QEMU's error class and description", async () => {
    const qmp = await start({
      device_del: () => ({ error: { class: 'DeviceNotFound', desc: "Device 'nope' not found" } }),
    });
    const failure = qmp.execute('device_del', { id: 'nope' });
    await expect(failure).rejects.toBeInstanceOf(QmpError);
    await expect(failure).rejects.toMatchObject({
      command: 'device_del',
      errorClass: 'DeviceNotFound',
      desc: "Device 'nope' not found",
    });
    await expect(qmp.execute('no-such-command')).rejects.toThrow(/QMP no-such-command: CommandNotFound/);
  });

  it('matches concurrent commands to their answers by id', async () => {
    const qmp = await start({ echo: (args) => ({ return: args }) });
    const answers = await Promise.all([1, 2, 3].map((n) => qmp.execute('echo', { n })));
    expect(answers).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('delivers asynchronous events, and waits for a matching DEVICE_DELETED', async () => {
    const qmp = await start();
    const seen: QmpEvent[] = [];
    const unsubscribe = qmp.onEvent((event) => seen.push(event));
    const deleted = qmp.waitForEvent('DEVICE_DELETED', (event) => event.data.device === 'fs1', 2000);
    server?.emitEvent('STOP');
    server?.emitEvent('DEVICE_DELETED', { path: '/machine/peripheral/fs1/virtio-backend' });
    server?.emitEvent('DEVICE_DELETED', { device: 'fs1', path: '/machine/peripheral/fs1' });
    await expect(deleted).resolves.toMatchObject({ event: 'DEVICE_DELETED', data: { device: 'fs1' } });
    unsubscribe();
    server?.emitEvent('RESUME');
    // A round trip: the RESUME sent before the answer has been dispatched by now.
    await qmp.execute('qmp_capabilities');
    expect(seen.map((event) => event.event)).toEqual(['STOP', 'DEVICE_DELETED', 'DEVICE_DELETED']);
    expect(seen[0]?.timestamp).toEqual({ seconds: 1700000000, microseconds: 42 });
  });

  it('quit: QEMU answers, announces SHUTDOWN and closes; the client resolves on the close', async () => {
    const qmp = await start();
    const shutdown = qmp.waitForEvent('SHUTDOWN', () => true, 2000);
    await qmp.quit();
    await expect(shutdown).resolves.toMatchObject({ data: { reason: 'host-qmp-quit' } });
    expect(qmp.isClosed).toBe(true);
  });

  it('surfaces the socket closing: pending commands fail, later ones too, `closed` resolves with why', async () => {
    const qmp = await start({ hang: () => undefined });
    const pendingCommand = qmp.execute('hang');
    const pendingWait = qmp.waitForEvent('SHUTDOWN', () => true, 5000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    server?.dropClients();
    await expect(qmp.closed).resolves.toMatch(/closed by QEMU/);
    await expect(pendingCommand).rejects.toThrow(/QMP hang: .*closed by QEMU/);
    await expect(pendingWait).rejects.toThrow(/closed by QEMU/);
    await expect(qmp.execute('query-status')).rejects.toThrow(/QMP query-status: .*closed by QEMU/);
  });

  it('ends the connection on a message it cannot parse', async () => {
    const qmp = await start();
    server?.sendRaw('{"return": oops}\n');
    await expect(qmp.closed).resolves.toMatch(/unparsable message from QEMU/);
  });

  it('retries while the socket does not exist yet', async () => {
    const path = join(dir, 'late.sock');
    const connecting = QmpClient.connect(path, { timeoutMs: 3000 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    server = await FakeQmpServer.listen(path);
    client = await connecting;
    expect(client.isClosed).toBe(false);
  });

  it('gives up when told to, or when the time is up, naming the socket', async () => {
    const controller = new AbortController();
    const connecting = QmpClient.connect(join(dir, 'never.sock'), { timeoutMs: 10_000, signal: controller.signal });
    controller.abort('QEMU exited');
    await expect(connecting).rejects.toThrow(/gave up connecting to .*never\.sock: QEMU exited/);
    await expect(QmpClient.connect(join(dir, 'never.sock'), { timeoutMs: 100 })).rejects.toThrow(
      /never\.sock did not accept a connection in time/,
    );
  });

  it('gives up when QEMU greets but does not answer qmp_capabilities', async () => {
    server = await FakeQmpServer.listen(join(dir, 'qmp.sock'), {});
    server.stallCapabilities = true;
    await expect(QmpClient.connect(server.path, { timeoutMs: 200 })).rejects.toThrow(
      /no answer to qmp_capabilities in time/,
    );
  });

  it('fails with the reason when the peer is not QMP', async () => {
    const path = join(dir, 'notqmp.sock');
    const other = createServer((socket) => socket.end('hello there\n'));
    await new Promise<void>((resolve) => other.listen(path, () => resolve()));
    try {
      await expect(QmpClient.connect(path, { timeoutMs: 1000 })).rejects.toThrow(/bad greeting/);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});

// The real thing: QEMU with only a QMP socket, frozen before the first instruction (-S), so no
// kernel is needed. Started and, whatever happens, killed by PID.
hostPrograms('qemu-system-x86_64').describe('QmpClient against qemu-system-x86_64', () => {
  jest.setTimeout(30_000);
  let dir: string;
  let qemu: RunningQemu | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-qmp-qemu-'));
  });
  afterEach(async () => {
    if (qemu !== undefined) await qemu.stop(0);
    qemu = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('greets, negotiates, reports prelaunch then paused, and exits on quit', async () => {
    const socket = join(dir, 'qmp.sock');
    qemu = await launchQemu({
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
    const qmp = await QmpClient.connect(socket, { timeoutMs: 10_000 });
    expect(qmp.greeting.version.qemu.major).toBeGreaterThanOrEqual(7);
    await expect(qmp.queryStatus()).resolves.toEqual({ status: 'prelaunch', running: false });
    const resumed = qmp.waitForEvent('RESUME');
    await qmp.execute('cont');
    await resumed;
    const stopped = qmp.waitForEvent('STOP');
    await qmp.execute('stop');
    await stopped;
    await expect(qmp.queryStatus()).resolves.toEqual({ status: 'paused', running: false });
    await expect(qmp.execute('device_del', { id: 'nope' })).rejects.toMatchObject({ errorClass: 'DeviceNotFound' });
    const shutdown = qmp.waitForEvent('SHUTDOWN');
    await qmp.quit();
    await expect(shutdown).resolves.toMatchObject({ data: { guest: false, reason: 'host-qmp-quit' } });
    await expect(qmp.closed).resolves.toMatch(/closed by QEMU/);
    await expect(qemu.exited).resolves.toMatchObject({ code: 0, signal: null });
  });
});
