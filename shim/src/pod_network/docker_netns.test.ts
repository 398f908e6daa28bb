import { dockerNetnsPath, joinSandboxNetwork, libnetworkHook } from './docker_netns';
import { networkSource } from './pod_network';

// What dockerd 26 puts in a bridge-network container's config.json (trimmed).
const SETKEY = {
  path: '/proc/28519/exe',
  args: ['libnetwork-setkey', '-exec-root=/run/docker', 'cdf151064e96', 'e19cc15a1c19'],
};
const dockerSpec = {
  ociVersion: '1.2.0',
  linux: { namespaces: [{ type: 'mount' }, { type: 'network' }, { type: 'pid' }] },
  hooks: { prestart: [{ path: '/usr/bin/other-hook', args: ['other-hook'] }, SETKEY] },
};

/** The Docker spec with other hooks (a variable: ShimSpec types only the fields the shim reads). */
function withHooks(hooks: object) {
  return { ...dockerSpec, hooks };
}

describe('libnetworkHook', () => {
  it("finds dockerd's setkey hook when the spec asks for a new netns", () => {
    expect(libnetworkHook(dockerSpec)).toEqual({ ...SETKEY, env: [] });
    expect(libnetworkHook(withHooks({ createRuntime: [SETKEY] }))?.path).toBe(SETKEY.path);
  });

  it('finds none without the hook, or when the spec names a netns (CRI) or none at all (host network)', () => {
    expect(libnetworkHook(withHooks({ prestart: [] }))).toBeUndefined();
    const named = { ...dockerSpec, linux: { namespaces: [{ type: 'network', path: '/var/run/netns/cni-1' }] } };
    expect(libnetworkHook(named)).toBeUndefined();
    expect(libnetworkHook({ ...dockerSpec, linux: { namespaces: [{ type: 'pid' }] } })).toBeUndefined();
  });
});

describe('networkSource', () => {
  it("is the spec's netns path for CRI, the hook for Docker, and nothing for --network none", () => {
    const cri = { ociVersion: '1.0.2', linux: { namespaces: [{ type: 'network', path: '/var/run/netns/cni-1' }] } };
    expect(networkSource(cri, 'c1', '/b')).toEqual({ kind: 'netns', path: '/var/run/netns/cni-1' });
    expect(networkSource(dockerSpec, 'c1', '/b')).toEqual({
      kind: 'docker',
      hook: { ...SETKEY, env: [] },
      containerId: 'c1',
      bundle: '/b',
    });
    expect(networkSource(withHooks({}), 'c1', '/b')).toBeUndefined();
  });
});

describe('joinSandboxNetwork', () => {
  it("names the shim's netns in the network entry, so the guest shares the VM's network, and keeps the rest", () => {
    const joined = JSON.parse(joinSandboxNetwork(JSON.stringify(dockerSpec), dockerNetnsPath('c1')));
    expect(joined.linux.namespaces).toEqual([
      { type: 'mount' },
      { type: 'network', path: '/var/run/netns/vfs-c1' },
      { type: 'pid' },
    ]);
    expect(joined.hooks).toEqual(dockerSpec.hooks);
  });
});
