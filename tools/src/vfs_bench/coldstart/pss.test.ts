import { densityRow, formatDensity } from './density';
import { parsePssKib } from '../../bench_common/process_memory';
import { processTree } from '../../bench_common/process_cpu';
import { roleOf } from './pss';

describe('PSS by role', () => {
  it('reads Pss from smaps_rollup and refuses a text without it', () => {
    const rollup =
      '55d0c0000000-7ffc00000000 ---p 00000000 00:00 0 [rollup]\nRss: 30000 kB\nPss: 12345 kB\nPss_Anon: 100 kB\n';
    expect(parsePssKib(rollup)).toBe(12345);
    expect(() => parsePssKib('Rss: 1 kB\n')).toThrow(/no Pss/);
  });

  it("tells a sandbox's processes apart by their command line", () => {
    expect(roleOf(['/usr/bin/node', '/opt/vfs/build/bin/containerd-shim-vfs-v2', '-namespace', 'x'])).toBe('shim');
    expect(roleOf(['/usr/bin/containerd-shim-runc-v2', '-namespace', 'x'])).toBe('shim');
    expect(roleOf(['unshare', '--mount', 'node', '/opt/vfs/build/bin/vfs-virtiofsd', '--control-socket=x'])).toBe(
      'daemon',
    );
    expect(roleOf(['/usr/bin/qemu-system-x86_64', '-M', 'microvm'])).toBe('qemu');
    expect(roleOf(['sleep', '1000000'])).toBe('container');
  });

  it('finds a process tree from its roots', () => {
    expect(processTree(process.pid)).toContain(process.pid);
  });
});

describe('density', () => {
  it('gives sandboxes per GiB and the mean PSS per sandbox by role', () => {
    const row = densityRow('vfs', 4, { shim: 200, daemon: 120, qemu: 704, container: 0 });
    expect(row).toEqual({
      runtime: 'vfs',
      sandboxes: 4,
      pss_total_mib: 1024,
      sandboxes_per_gib: 4,
      pss_per_sandbox_mib: { shim: 50, daemon: 30, qemu: 176, container: 0, total: 256 },
    });
    expect(densityRow('runc', 0, { shim: 0, daemon: 0, qemu: 0, container: 0 }).sandboxes_per_gib).toBeNull();
    expect(formatDensity([row], 1024)).toMatch(/vfs\s+4\s+4\.0\s+256\.0\s+50\.0\s+30\.0\s+176\.0\s+0\.0/);
  });
});
