// The pod network hot-plugged into a running QEMU, for real: a paused q35 QEMU (no guest kernel)
// with two pcie-root-ports, started in the host netns, and a netns as CNI's bridge plugin leaves
// one (a veth named eth0 with an address). Checks the tap, the filters and QEMU's NIC, that
// remove() and every failure leave nothing, and that removal after QEMU's end still cleans the
// netns. Needs root and qemu-system-x86_64; runs in a few seconds.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SandboxError } from '../sandbox_error';
import { RootPortPool } from '../vm/fs_hotplug';
import { QmpClient } from '../vm/qmp';
import { killQemuByPid, launchQemu, type RunningQemu } from '../vm/qemu_process';
import { type ControlledVm, controlVm } from '../vm_runtime/vm_control';
import { hotplugPodNetwork, type NetHotplugVm } from './pod_network';

const log = pino({ level: 'silent' });

function run(program: string, args: string[]): string {
  return execFileSync(program, args, { encoding: 'utf8' });
}

/** What hotplug could leave behind in the netns: links, and qdiscs other than the defaults. */
function netnsFootprint(netns: string): string {
  const links = JSON.parse(run('ip', ['-n', netns, '-j', 'link', 'show'])) as { ifname: string }[];
  const qdiscs = JSON.parse(run('ip', ['netns', 'exec', netns, 'tc', '-j', 'qdisc', 'show'])) as {
    kind: string;
    dev: string;
  }[];
  const kinds = qdiscs.filter((q) => q.kind === 'ingress' || q.kind === 'clsact').map((q) => `${q.dev}:${q.kind}`);
  return JSON.stringify({ links: links.map((l) => l.ifname).sort(), qdiscs: kinds });
}

function hostHasLink(name: string): boolean {
  return (JSON.parse(run('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).some((l) => l.ifname === name);
}

function tcFilters(netns: string, dev: string): string {
  return run('ip', ['netns', 'exec', netns, 'tc', 'filter', 'show', 'dev', dev, 'ingress']);
}

describe('the pod network hot-plugged into a running QEMU', () => {
  const netns = `vfs-hp-${randomBytes(4).toString('hex')}`;
  const netnsPath = `/var/run/netns/${netns}`;
  const hostEnd = `vfsv${randomBytes(4).toString('hex')}`;
  let dir: string;
  let qemu: RunningQemu | undefined;
  let vm: ControlledVm;
  /** A second monitor, for the test's own looks and the guest's stand-in. */
  let monitor: QmpClient;
  let mac: string;
  let before: string;

  const networkInfo = async (): Promise<string> =>
    monitor.execute<string>('human-monitor-command', { 'command-line': 'info network' });
  const qomGet = (path: string, property: string): Promise<unknown> => monitor.execute('qom-get', { path, property });
  /** The devices plugged into a root port's bus. */
  const devicesOn = async (port: string): Promise<number> =>
    (await monitor.execute<{ name: string }[]>('qom-list', { path: `/machine/peripheral/${port}/${port}` })).filter(
      (p) => p.name.startsWith('child['),
    ).length;

  /**
   * A paused VM without a guest never releases a device at device_del; a reset completes a
   * pending unplug, so resets stand in for the guest's pciehp until the removal is done.
   */
  const releasingVm = (timeoutMs = 10_000): NetHotplugVm => ({
    pid: vm.pid,
    addNetDevice: (device, connect) => vm.addNetDevice(device, connect),
    removeNetDevice: async (id) => {
      let done = false;
      const removing = vm.removeNetDevice(id, timeoutMs).finally(() => {
        done = true;
      });
      removing.catch(() => undefined);
      while (!done) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (!done) await monitor.execute('system_reset');
      }
      return removing;
    },
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-nethp-'));
    run('ip', ['netns', 'add', netns]);
    run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    run('ip', ['-n', netns, 'link', 'set', 'eth0', 'mtu', '1400', 'up']);
    run('ip', ['-n', netns, 'addr', 'add', '10.251.9.5/24', 'dev', 'eth0']);
    mac = (JSON.parse(run('ip', ['-n', netns, '-j', 'link', 'show', 'eth0'])) as { address: string }[])[0]
      ?.address as string;
    before = netnsFootprint(netns);
    const qmpSocket = join(dir, 'qmp.sock');
    const monitorSocket = join(dir, 'monitor.sock');
    qemu = await launchQemu({
      args: [
        ...['-machine', 'q35', '-S', '-nodefaults', '-display', 'none'],
        ...['-device', 'pcie-root-port,id=hp0,bus=pcie.0,chassis=1,slot=1'],
        ...['-device', 'pcie-root-port,id=hp1,bus=pcie.0,chassis=2,slot=2'],
        ...['-qmp', `unix:${qmpSocket},server=on,wait=off`],
        ...['-qmp', `unix:${monitorSocket},server=on,wait=off`],
      ],
      stderrLogPath: join(dir, 'qemu.log'),
    });
    vm = await controlVm(qemu, qmpSocket, log);
    monitor = await QmpClient.connect(monitorSocket, { timeoutMs: 10_000 });
  });

  afterAll(async () => {
    monitor?.close();
    if (qemu !== undefined && killQemuByPid(qemu.pid)) await qemu.exited;
    // Each goes even when set-up stopped before making the others.
    for (const args of [
      ['link', 'del', hostEnd],
      ['netns', 'del', netns],
    ]) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts a NIC with the veth MAC on a free root port, its QEMU tap mirrored to eth0 in the pod netns', async () => {
    const ports = new RootPortPool(2);
    ports.take('a volume');
    const network = await hotplugPodNetwork(netnsPath, releasingVm(), ports, log);
    try {
      const [nic] = network.nics;
      if (nic === undefined) throw new Error('no NIC');
      expect(network.interfaces).toEqual([{ name: 'eth0', mac, mtu: 1400, addresses: ['10.251.9.5/24'] }]);
      expect(nic).toEqual({ id: nic.tap, tap: nic.tap, mac });
      expect(nic.tap).toMatch(/^vt[0-9a-f]{12}$/);

      expect(hostHasLink(nic.tap)).toBe(false);
      expect(run('ip', ['-n', netns, '-o', 'link', 'show', nic.tap])).toMatch(/<[^>]*\bUP\b[^>]*> mtu 1400 /);
      expect(netnsFootprint(netns)).toContain('"eth0:ingress"');
      expect(netnsFootprint(netns)).toContain(`"${nic.tap}:ingress"`);
      expect(tcFilters(netns, 'eth0')).toContain(`Egress Redirect to device ${nic.tap}`);
      expect(tcFilters(netns, nic.tap)).toContain('Egress Redirect to device eth0');
      expect(await networkInfo()).toContain(`${nic.tap}-nic: index=0,type=nic,model=virtio-net-pci,macaddr=${mac}`);
      expect(await networkInfo()).toContain(`${nic.tap}: index=0,type=tap,ifname=${nic.tap}`);
      expect(await qomGet(`/machine/peripheral/${nic.tap}-nic`, 'parent_bus')).toBe('/machine/peripheral/hp1/hp1');
      expect(ports.free).toBe(0);
    } finally {
      await network.remove();
    }
    await network.remove();
    expect(netnsFootprint(netns)).toBe(before);
    expect(await networkInfo()).toBe('');
    expect(await devicesOn('hp1')).toBe(0);
    expect(ports.free).toBe(1);
  });

  it('fails as a bad request naming the path, and makes nothing, when the path is not a netns', async () => {
    const notNetns = join(dir, 'not-a-netns');
    writeFileSync(notNetns, '');
    const ports = new RootPortPool(2);
    const failed = await hotplugPodNetwork(notNetns, releasingVm(), ports, log).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(SandboxError);
    expect((failed as SandboxError).kind).toBe('bad-request');
    expect((failed as Error).message).toContain(`cannot enter the pod network namespace ${notNetns}`);
    expect(await networkInfo()).toBe('');
    expect(ports.free).toBe(2);
  });

  it('fails naming the slot limit, and makes nothing, when volumes hold every root port', async () => {
    const ports = new RootPortPool(2);
    ports.take('volume 0');
    ports.take('volume 1');
    await expect(hotplugPodNetwork(netnsPath, releasingVm(), ports, log)).rejects.toThrow(
      /^pod network: take a hotplug slot: all 2 slots are in use/,
    );
    expect(netnsFootprint(netns)).toBe(before);
    expect(await networkInfo()).toBe('');
  });

  it('takes the tap, filters, qdisc and netdev away again when QEMU refuses the NIC, naming the step and QEMU’s words', async () => {
    // A pool that believes in a third port QEMU does not have: device_add fails after the tap is wired.
    const ports = new RootPortPool(3);
    ports.take('volume 0');
    ports.take('volume 1');
    await expect(hotplugPodNetwork(netnsPath, releasingVm(), ports, log)).rejects.toThrow(
      /^pod network: QMP device_add vt[0-9a-f]{12}-nic on hp2: GenericError: Bus 'hp2' not found/,
    );
    expect(netnsFootprint(netns)).toBe(before);
    expect(await networkInfo()).toBe('');
    expect(ports.free).toBe(1);
  });

  it('still takes the tap, filters and netdev away when the guest never releases the NIC, and names the wait', async () => {
    const unreleasing: NetHotplugVm = {
      pid: vm.pid,
      addNetDevice: (device, connect) => vm.addNetDevice(device, connect),
      removeNetDevice: (id) => vm.removeNetDevice(id, 300),
    };
    const network = await hotplugPodNetwork(netnsPath, unreleasing, new RootPortPool(2), log);
    const nic = `${network.nics[0]?.id}-nic`;
    await expect(network.remove()).rejects.toThrow(
      `pod network ${netnsPath} removed, but: remove ${nic} and its tap: wait for the guest to release ${nic}`,
    );
    // netdev_del closed QEMU's tap fd: the tap is gone, and its filters and qdisc with it.
    expect(netnsFootprint(netns)).toBe(before);
    expect(hostHasLink(`${network.nics[0]?.tap}`)).toBe(false);
    // The NIC itself waits for the guest (and keeps its netdev's name); a reset lets both go.
    await monitor.execute('system_reset');
    expect(await networkInfo()).toBe('');
  });

  it('cleans the netns without failing when QEMU has exited before the removal', async () => {
    const network = await hotplugPodNetwork(netnsPath, vm, new RootPortPool(2), log);
    expect(netnsFootprint(netns)).not.toBe(before);
    await vm.stop(2000);
    await network.remove();
    expect(netnsFootprint(netns)).toBe(before);
  });
});
