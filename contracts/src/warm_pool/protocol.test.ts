import { parsePooledVm, parsePoolRequest, PoolProtocolError } from './protocol';

const VM = {
  id: 'ab254d9d791e',
  fingerprint: '922dd61c269180d5',
  qemu: { pid: 10873, startTime: '123' },
  daemon: { pid: 10850, startTime: '120' },
  paths: {
    stateDir: '/run/vfs/pool/ab254d9d791e',
    sharesDir: '/run/vfs/pool/ab254d9d791e/shares',
    stagingDir: '/run/vfs/pool/ab254d9d791e/staging',
    socketDir: '/run/vfs/s/pool-ab254d9d791e.vm',
    agentSocket: '/run/vfs/s/pool-ab254d9d791e.vm/agent.sock',
    qmpSocket: '/run/vfs/s/pool-ab254d9d791e.vm/qmp.sock',
    controlSocket: '/run/vfs/s/pool-ab254d9d791e.vm/ctl.sock',
    consoleLog: '/run/vfs/pool/ab254d9d791e/console.log',
    qemuStderr: '/run/vfs/pool/ab254d9d791e/qemu.stderr',
    daemonStderr: '/run/vfs/pool/ab254d9d791e/virtiofsd.log',
  },
  mounts: ['/run/vfs/pool/ab254d9d791e/shares', '/run/vfs/pool/ab254d9d791e/staging'],
  bootMs: 7558,
};

describe('the warm pool protocol', () => {
  it('reads take and status requests', () => {
    expect(parsePoolRequest('{"id":1,"op":"take","fingerprint":"f","sandboxId":"s"}')).toEqual({
      id: 1,
      op: 'take',
      fingerprint: 'f',
      sandboxId: 's',
    });
    expect(parsePoolRequest('{"id":2,"op":"status"}')).toEqual({ id: 2, op: 'status' });
  });

  it.each([
    ['not json', /^not JSON/],
    ['[]', /request must be a JSON object/],
    ['{"id":1,"op":"drain"}', /unknown op 'drain'/],
    ['{"id":1,"op":"take","sandboxId":"s"}', /field 'fingerprint': expected string/],
    ['{"id":-1,"op":"status"}', /field 'id': expected a non-negative integer/],
  ])('refuses %s, naming what is wrong', (line, message) => {
    expect(() => parsePoolRequest(line)).toThrow(PoolProtocolError);
    expect(() => parsePoolRequest(line)).toThrow(message);
  });

  it('reads a handed-over VM', () => {
    expect(parsePooledVm(JSON.parse(JSON.stringify(VM)))).toEqual(VM);
  });

  it("reads the pool's held agent connection, and a VM without one", () => {
    const held = { ...VM, agentConnection: { pid: 4242, fd: 31, inode: 1234567 } };
    expect(parsePooledVm(JSON.parse(JSON.stringify(held)))).toEqual(held);
    expect(parsePooledVm(JSON.parse(JSON.stringify(VM))).agentConnection).toBeUndefined();
  });

  it.each([
    [{ ...VM, paths: { ...VM.paths, qmpSocket: 'qmp.sock' } }, /field 'qmpSocket': "qmp.sock" is not an absolute path/],
    [{ ...VM, paths: undefined }, /field 'paths' must be a JSON object/],
    [{ ...VM, qemu: { pid: 1, startTime: '1' } }, /field 'qemu.pid': 1 is not a process to adopt/],
    [{ ...VM, daemon: undefined }, /field 'daemon' must be a JSON object/],
    [{ ...VM, mounts: ['relative'] }, /field 'mounts': expected an array of absolute paths/],
    [{ ...VM, agentConnection: { pid: 1, fd: 3, inode: 9 } }, /field 'agentConnection.pid': 1 is not a pool process/],
    [{ ...VM, agentConnection: { pid: 42, fd: -1, inode: 9 } }, /field 'fd': expected a non-negative integer/],
    [{ ...VM, agentConnection: 'fd 3' }, /field 'agentConnection' must be a JSON object/],
  ])('refuses a VM a shim must not act on (%#)', (vm, message) => {
    expect(() => parsePooledVm(vm)).toThrow(message);
  });
});
