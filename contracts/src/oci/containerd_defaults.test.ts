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
    expect(parseResources(spec.linux?.resources).devices).toEqual([{ allow: false, access: 'rwm' }]);
    expect(spec.linux?.namespaces?.map((ns) => ns.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'network']);
  });
});
