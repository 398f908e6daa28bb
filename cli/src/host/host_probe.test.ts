import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupControllers, probeDevice, probeFile, readAccelCache } from './host_probe';

describe('host probes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-cli-probe-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('open a device read-write, or say it is missing', () => {
    expect(probeDevice('/dev/null')).toEqual({ state: 'ok' });
    expect(probeDevice(join(dir, 'kvm'))).toEqual({ state: 'missing' });
  });

  it('tell a readable file from a missing one and one that cannot be executed', () => {
    const file = join(dir, 'vmlinux');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    expect(probeFile(file, 'read')).toEqual({ state: 'ok' });
    expect(probeFile(join(dir, 'absent'), 'read')).toEqual({ state: 'missing' });
    expect(probeFile(join(file, 'below-a-file'), 'read')).toEqual({ state: 'missing' });
    expect(probeFile(file, 'execute')).toEqual({ state: 'denied', code: 'EACCES' });
  });

  it('read the cgroup v2 controllers, or undefined without cgroup v2', () => {
    const controllers = join(dir, 'cgroup.controllers');
    writeFileSync(controllers, 'cpuset cpu io memory pids\n');
    expect(cgroupControllers(controllers)).toEqual(['cpuset', 'cpu', 'io', 'memory', 'pids']);
    expect(cgroupControllers(join(dir, 'absent'))).toBeUndefined();
  });

  it('read the shim’s accel cache as absent, corrupt or a verdict', () => {
    const cache = join(dir, 'accel.json');
    expect(readAccelCache(cache)).toEqual({ state: 'absent' });
    writeFileSync(cache, '{"bootId":"b","accel":');
    expect(readAccelCache(cache)).toEqual({ state: 'corrupt' });
    writeFileSync(cache, '{"bootId":"b","accel":"tcg"}\n');
    expect(readAccelCache(cache)).toEqual({ state: 'verdict', verdict: { bootId: 'b', accel: 'tcg' } });
  });
});
