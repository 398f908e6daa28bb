// The tap mirror on a real network namespace, as CNI's bridge plugin leaves one (a veth named eth0
// with an address and a route): set-up makes one tap wired both ways, remove() leaves the netns as
// it was, and a failed set-up leaves nothing behind. Needs root (ip netns, tc), like CNI itself.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { SandboxError } from '../sandbox_error';
import { podNetnsPath, setUpPodNetwork } from './pod_network';

const log = pino({ level: 'silent' });

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/** What set-up could leave behind in the netns: links, and qdiscs other than the defaults. */
function netnsFootprint(netns: string): string {
  const links = JSON.parse(ip(['-n', netns, '-j', 'link', 'show'])) as { ifname: string }[];
  const qdiscs = execFileSync('ip', ['netns', 'exec', netns, 'tc', '-j', 'qdisc', 'show'], { encoding: 'utf8' });
  const kinds = (JSON.parse(qdiscs) as { kind: string; dev: string }[])
    .filter((q) => q.kind === 'ingress' || q.kind === 'clsact')
    .map((q) => `${q.dev}:${q.kind}`);
  return JSON.stringify({ links: links.map((l) => l.ifname).sort(), qdiscs: kinds });
}

describe('the pod network tap mirror on a real netns', () => {
  const netns = `vfs-test-${randomBytes(4).toString('hex')}`;
  const path = `/var/run/netns/${netns}`;
  const hostEnd = `vfsv${randomBytes(4).toString('hex')}`;
  let before: string;

  beforeAll(() => {
    ip(['netns', 'add', netns]);
    ip(['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    ip(['-n', netns, 'link', 'set', 'eth0', 'mtu', '1400', 'up']);
    ip(['-n', netns, 'addr', 'add', '10.251.7.5/24', 'dev', 'eth0']);
    ip(['-n', netns, 'route', 'add', '10.252.0.0/16', 'via', '10.251.7.1']);
    before = netnsFootprint(netns);
  });

  afterAll(() => {
    execFileSync('ip', ['link', 'del', hostEnd], { stdio: 'ignore' });
    ip(['netns', 'del', netns]);
  });

  it('mirrors eth0 to a tap with its MTU, reports its MAC, addresses and routes, and removes only what it made', async () => {
    const mac = (JSON.parse(ip(['-n', netns, '-j', 'link', 'show', 'eth0'])) as { address: string }[])[0]?.address;
    const network = await setUpPodNetwork(path, log);
    expect(network.interfaces).toEqual([{ name: 'eth0', mac, mtu: 1400, addresses: ['10.251.7.5/24'] }]);
    expect(network.routes).toEqual([
      { destination: '10.252.0.0/16', gateway: '10.251.7.1', device: 'eth0', ipv6: false },
    ]);
    expect(network.nics).toEqual([{ id: 'net0', tap: 'vfstap0', mac }]);
    expect(ip(['-n', netns, '-o', 'link', 'show', 'vfstap0'])).toContain('mtu 1400');
    const filters = execFileSync('ip', ['netns', 'exec', netns, 'tc', 'filter', 'show', 'dev', 'eth0', 'ingress'], {
      encoding: 'utf8',
    });
    expect(filters).toContain('Egress Redirect to device vfstap0');
    await network.remove();
    await network.remove();
    expect(netnsFootprint(netns)).toBe(before);
  });

  it('fails with the tc error and leaves no tap when the interface already has an ingress qdisc', async () => {
    ip(['netns', 'exec', netns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'ingress']);
    try {
      const failed = await setUpPodNetwork(path, log).catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(SandboxError);
      expect((failed as Error).message).toMatch(/^pod network: `tc qdisc add dev eth0 ingress` in \/var\/run\/netns\//);
      expect(ip(['-n', netns, '-o', 'link', 'show'])).not.toContain('vfstap0');
    } finally {
      ip(['netns', 'exec', netns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'ingress']);
    }
    expect(netnsFootprint(netns)).toBe(before);
  });

  it('fails as a bad request naming the path when the netns cannot be entered', async () => {
    const failed = await setUpPodNetwork('/var/run/netns/vfs-no-such-netns', log).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(SandboxError);
    expect((failed as SandboxError).kind).toBe('bad-request');
    expect((failed as Error).message).toContain(
      'cannot enter the pod network namespace /var/run/netns/vfs-no-such-netns',
    );
  });
});

describe('podNetnsPath', () => {
  it('is the network namespace path of the spec, and none for a new netns or none listed', () => {
    const spec = (namespaces: { type: string; path?: string }[]) => ({ ociVersion: '1.0.2', linux: { namespaces } });
    expect(podNetnsPath(spec([{ type: 'pid' }, { type: 'network', path: '/var/run/netns/cni-1' }]))).toBe(
      '/var/run/netns/cni-1',
    );
    expect(podNetnsPath(spec([{ type: 'network' }]))).toBeUndefined();
    expect(podNetnsPath({ ociVersion: '1.0.2' })).toBeUndefined();
  });
});
