import { containerdDefaultSpec, CONTAINERD_DEFAULT_MOUNTS } from './containerd_defaults';
import { parseProcess, parseResources } from './spec_check';

describe("containerd's default spec", () => {
  it('runs the given program with the given mounts, and its process and resources pass the checks', () => {
    const spec = containerdDefaultSpec(['/bin/true'], CONTAINERD_DEFAULT_MOUNTS);
    expect(spec.process?.args).toEqual(['/bin/true']);
    expect(spec.mounts?.map((m) => m.destination)).toEqual([
      '/proc',
      '/dev',
      '/dev/pts',
      '/dev/shm',
      '/dev/mqueue',
      '/sys',
      '/run',
    ]);
    expect(parseProcess(JSON.parse(JSON.stringify(spec.process))).capabilities?.bounding).toHaveLength(14);
    // Deny all, then the nine devices `ctr run` allows (as containerd 1.6 sent them to the shim).
    const devices = parseResources(spec.linux?.resources).devices ?? [];
    expect(devices[0]).toEqual({ allow: false, access: 'rwm' });
    expect(devices.slice(1).map((d) => `${d.type}:${d.major}:${d.minor ?? '*'}:${d.access}`)).toEqual([
      'c:1:3:rwm',
      'c:1:8:rwm',
      'c:1:7:rwm',
      'c:5:0:rwm',
      'c:1:5:rwm',
      'c:1:9:rwm',
      'c:5:1:rwm',
      'c:136:*:rwm',
      'c:5:2:rwm',
    ]);
    expect(spec.linux?.namespaces?.map((ns) => ns.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
  });
});
