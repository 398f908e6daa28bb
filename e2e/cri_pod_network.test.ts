// Pod networking through containerd's CRI plugin (issue 12): a private containerd with a CNI bridge
// network of this run's own (harness/src/cni_network.ts: Debian's bridge + host-local plugins, a
// private subnet, nothing routed to the host). Two vfs pods get their CNI addresses on the guest's
// eth0 (the shim mirrors each pod veth to a tap with tc filters, QEMU's virtio-net NIC sits on the
// tap, the agent configures it); pod A serves HTTP with busybox httpd and pod B fetches it by
// address; a runc pod on the same bridge fetches from a vfs pod and is fetched from. After
// RemovePodSandbox the pod's netns, held open by the test past CNI DEL, has no tap, filter or
// ingress qdisc left, and the host no tap.
// Needs root, Debian's containerd, runc and containernetworking-plugins; `make build`.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ContainerConfig,
  CreateContainerRequest,
  ExecSyncRequest,
  type ExecSyncResponse,
  NamespaceMode,
  PodSandboxConfig,
  PodSandboxStatusRequest,
  RemovePodSandboxRequest,
  RunPodSandboxRequest,
  StartContainerRequest,
  StopPodSandboxRequest,
} from '@vfs/proto/gen/k8s.io/cri-api/runtime/v1/api';
import { bundleShim } from '@vfs/harness/bundles';
import { CniNetwork } from '@vfs/harness/cni_network';
import { mountsUnder, PrivateContainerd } from '@vfs/harness/containerd';
import { CriClient } from '@vfs/harness/cri_client';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { ok, recordedPid, VM_IMAGE, waitFor } from '@vfs/harness/vm_checks';

jest.setTimeout(240_000);

type Handler = 'runc' | 'vfs';
const CRI_NAMESPACE = 'k8s.io';
const SUBNET = '10.250.12.0/24';
const POD_NETWORK = { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD };
const DNS = { servers: ['10.250.12.53'], searches: ['pods.vfs.test'], options: [] };

interface Pod {
  readonly id: string;
  readonly ip: string;
  readonly container: string;
  readonly page: string;
}

/** Links and ingress qdiscs of a netns, by a path that keeps it open. */
function netnsFootprint(path: string): { links: string[]; ingress: string[]; filters: string } {
  const inNetns = (argv: string[]) => execFileSync('nsenter', [`--net=${path}`, '--', ...argv], { encoding: 'utf8' });
  const links = (JSON.parse(inNetns(['ip', '-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);
  const qdiscs = JSON.parse(inNetns(['tc', '-j', 'qdisc', 'show'])) as { kind: string; dev: string }[];
  const filters = links.map((dev) => inNetns(['tc', 'filter', 'show', 'dev', dev, 'ingress'])).join('');
  return {
    links: links.sort(),
    ingress: qdiscs.filter((q) => q.kind === 'ingress' || q.kind === 'clsact').map((q) => q.dev),
    filters,
  };
}

function hostTaps(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => /: vfstap\d+[@:]/.test(line));
}

describe('pod networking through CRI with a CNI bridge', () => {
  let work: string;
  let network: CniNetwork;
  let containerd: PrivateContainerd;
  let cri: CriClient;
  let podA: Pod;
  let podB: Pod;
  let podRunc: Pod;
  /** A bind mount of pod A's netns, so it outlives CNI DEL for the leftover check. */
  let heldNetns: string | undefined;

  beforeAll(async () => {
    bundleShim();
    work = mkdtempSync('/tmp/vfs-e2e-podnet-');
    network = CniNetwork.create({ subnet: SUBNET });
    // Three VMs boot under TCG on a shared host: give the guest agent time beyond the default.
    const vfsConfigPath = join(work, 'vfs.toml');
    writeFileSync(vfsConfigPath, '[agent]\ndial_timeout_ms = 120000\nrequest_timeout_ms = 120000\n');
    containerd = await PrivateContainerd.start({ cri: true, cni: network.dirs, vfsConfigPath });
    ok(await containerd.ctr(['images', 'import', buildBusyboxImage(work, VM_IMAGE)], { namespace: CRI_NAMESPACE }));
    cri = new CriClient(containerd.grpcAddress);
  });

  afterAll(async () => {
    if (heldNetns !== undefined) execFileSync('umount', [heldNetns], { stdio: 'ignore' });
    cri?.close();
    await containerd?.stop();
    network?.remove();
    rmSync(work, { recursive: true, force: true });
  });

  function podConfig(name: string, uid: string): PodSandboxConfig {
    return PodSandboxConfig.fromPartial({
      metadata: { name, uid, namespace: 'default', attempt: 0 },
      hostname: name,
      logDirectory: join(work, 'pods', `default_${name}_${uid}`),
      dnsConfig: DNS,
      linux: { cgroupParent: containerd.podCgroupParent(uid), securityContext: { namespaceOptions: POD_NETWORK } },
    });
  }

  /** A pod whose one container serves `page` on port 80 (busybox httpd) for the others to fetch. */
  async function runServingPod(handler: Handler, name: string, uid: string): Promise<Pod> {
    const config = podConfig(name, uid);
    const page = `served by ${name}\n`;
    const { podSandboxId: id } = await cri.runtime(
      'runPodSandbox',
      RunPodSandboxRequest.fromPartial({ config, runtimeHandler: handler }),
    );
    const script = `mkdir -p /www && printf '${page.replace('\n', '\\n')}' > /www/index.html && exec httpd -f -p 80 -h /www`;
    const { containerId: container } = await cri.runtime(
      'createContainer',
      CreateContainerRequest.fromPartial({
        podSandboxId: id,
        sandboxConfig: config,
        config: ContainerConfig.fromPartial({
          metadata: { name, attempt: 0 },
          image: { image: VM_IMAGE },
          command: ['sh', '-c', script],
          logPath: `${name}/0.log`,
          linux: { securityContext: { namespaceOptions: POD_NETWORK } },
        }),
      }),
    );
    await cri.runtime('startContainer', StartContainerRequest.fromPartial({ containerId: container }));
    const { status } = await cri.runtime('podSandboxStatus', PodSandboxStatusRequest.fromPartial({ podSandboxId: id }));
    return { id, ip: status?.network?.ip ?? '', container, page };
  }

  function execSync(containerId: string, cmd: string[]): Promise<ExecSyncResponse> {
    return cri.runtime('execSync', ExecSyncRequest.fromPartial({ containerId, cmd, timeout: 60n }));
  }

  /** `from` fetches `to`'s page by its pod IP; the server may still be starting. */
  async function fetchPage(from: Pod, to: Pod): Promise<string> {
    let last = '';
    const fetched = await waitFor(
      `${from.id} to fetch from ${to.ip}`,
      async () => {
        // busybox-static 1.35's `wget -T` segfaults: `timeout` bounds each try instead.
        const result = await execSync(from.container, ['timeout', '15', 'wget', '-q', '-O-', `http://${to.ip}/`]);
        last = `exit ${result.exitCode}: ${result.stderr.toString()}`;
        return result.exitCode === 0 ? result.stdout.toString() : undefined;
      },
      90_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; wget said ${last}`);
    });
    return fetched;
  }

  test('two vfs pods get their CNI addresses on eth0 inside the guest, with the pod MTU', async () => {
    podA = await runServingPod('vfs', 'net-vfs-a', '0c7a1e5e-0000-4000-8000-0000000012a1');
    podB = await runServingPod('vfs', 'net-vfs-b', '0c7a1e5e-0000-4000-8000-0000000012a2');
    for (const pod of [podA, podB]) {
      expect(pod.ip).toMatch(/^10\.250\.12\.\d+$/);
      const eth0 = await execSync(pod.container, ['ip', '-4', '-o', 'addr', 'show', 'eth0']);
      expect(eth0.stdout.toString()).toContain(`inet ${pod.ip}/24`);
      const link = await execSync(pod.container, ['ip', '-o', 'link', 'show', 'eth0']);
      expect(link.stdout.toString()).toMatch(/<[A-Z,_]*\bUP\b[A-Z,_]*> mtu 1500 /);
    }
    expect(podA.ip).not.toBe(podB.ip);
    // QEMU runs in the pod's netns (it opens the tap there): hold it open for the leftover check.
    heldNetns = join(work, 'netns-a');
    writeFileSync(heldNetns, '');
    execFileSync('mount', [
      '--bind',
      `/proc/${recordedPid(containerd, CRI_NAMESPACE, podA.id, 'qemu')}/ns/net`,
      heldNetns,
    ]);
    expect(netnsFootprint(heldNetns).links).toEqual(['eth0', 'lo', 'vfstap0']);
  });

  test('the guest has the resolver CRI wrote for the pod', async () => {
    const resolv = await execSync(podB.container, ['cat', '/etc/resolv.conf']);
    expect(resolv.stdout.toString()).toMatch(/nameserver 10\.250\.12\.53/);
    expect(resolv.stdout.toString()).toMatch(/search pods\.vfs\.test/);
    const hosts = await execSync(podB.container, ['cat', '/etc/hosts']);
    expect(hosts.exitCode).toBe(0);
    expect(hosts.stdout.toString()).toContain('localhost');
  });

  test('vfs pod B fetches HTTP from vfs pod A by its address', async () => {
    expect(await fetchPage(podB, podA)).toBe(podA.page);
  });

  test('a runc pod on the same bridge fetches from a vfs pod, and the vfs pod from it', async () => {
    podRunc = await runServingPod('runc', 'net-runc', '0c7a1e5e-0000-4000-8000-0000000012a3');
    expect(podRunc.ip).toMatch(/^10\.250\.12\.\d+$/);
    expect(await fetchPage(podRunc, podA)).toBe(podA.page);
    expect(await fetchPage(podA, podRunc)).toBe(podRunc.page);
  });

  test('RemovePodSandbox leaves no tap, filter or ingress qdisc in the netns, and no tap on the host', async () => {
    for (const pod of [podA, podB, podRunc]) {
      await cri.runtime('stopPodSandbox', StopPodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
      await cri.runtime('removePodSandbox', RemovePodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
    }
    if (heldNetns === undefined) throw new Error('the first test did not hold pod A’s netns');
    // CNI DEL took the veth; what is left of the netns is what vfs would have left.
    expect(netnsFootprint(heldNetns)).toEqual({ links: ['lo'], ingress: [], filters: '' });
    expect(hostTaps()).toEqual([]);
    expect(network.bridgePorts()).toEqual([]);
    expect(mountsUnder(containerd.dir)).toEqual([]);
  });
});
