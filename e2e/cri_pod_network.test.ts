// Pod networking through containerd's CRI plugin (issue 12): a private containerd with a CNI bridge
// network of this run's own (harness/src/cni_network.ts: Debian's bridge + host-local plugins, a
// private subnet, nothing routed to the host). Two vfs pods get their CNI addresses on the guest's
// eth0 (the shim mirrors each pod veth to a tap with tc filters, QEMU's virtio-net NIC sits on the
// tap, the agent configures it); pod A serves HTTP with busybox httpd and pod B fetches it by
// address; a runc pod on the same bridge fetches from a vfs pod and is fetched from. Pod A's VM
// comes from the warm pool (vfs-runtime pool serve), booted before the pod had a network: its NIC
// is hot-plugged (QEMU makes the tap in its own netns, the shim moves it into the pod's); pod B's
// VM is booted by its shim inside the pod's netns; pod C's resumes a VM template (vfs-runtime template
// create), which has no NIC either: its NIC is hot-plugged as pod A's. After RemovePodSandbox no vfs
// pod's netns, held open by the test past CNI DEL, has a tap, filter or ingress qdisc left, and the
// host no tap.
// Needs root, Debian's containerd, runc and containernetworking-plugins; `make build`.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { bundleCli, bundleShim } from '@vfs/harness/bundles';
import { CniNetwork } from '@vfs/harness/cni_network';
import { mountsUnder, PrivateContainerd } from '@vfs/harness/containerd';
import { CriClient } from '@vfs/harness/cri_client';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { ok, recordedPid, VM_IMAGE, waitFor } from '@vfs/harness/vm_checks';
import { WarmPoolService } from '@vfs/harness/warm_pool';

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
    .filter((line) => /: (vfstap\d+|vt[0-9a-f]{12})[@:]/.test(line));
}

/** Binds a netns (by any path to it) onto a file of ours, so it outlives CNI DEL. */
function holdNetns(from: string, at: string): string {
  writeFileSync(at, '');
  execFileSync('mount', ['--bind', from, at]);
  return at;
}

describe('pod networking through CRI with a CNI bridge', () => {
  let work: string;
  let network: CniNetwork;
  let containerd: PrivateContainerd;
  let cri: CriClient;
  let podA: Pod;
  let podB: Pod;
  let podRunc: Pod;
  let podC: Pod;
  /** On tmpfs, as a template's RAM must be; templates are on, but only pod C finds one saved. */
  const templatePath = `/dev/shm/vfs-e2e-podnet-template-${randomBytes(4).toString('hex')}`;
  /** Bind mounts of the vfs pods' netns, so they outlive CNI DEL for the leftover check. */
  const heldNetns: string[] = [];
  let vfsConfigPath: string;

  beforeAll(async () => {
    bundleShim();
    work = mkdtempSync('/tmp/vfs-e2e-podnet-');
    network = CniNetwork.create({ subnet: SUBNET });
    // Three VMs boot under TCG on a shared host: give the guest agent time beyond the default.
    vfsConfigPath = join(work, 'vfs.toml');
    writeFileSync(
      vfsConfigPath,
      '[agent]\ndial_timeout_ms = 120000\nrequest_timeout_ms = 120000\n' +
        `[factory]\nenable_template = true\ntemplate_path = "${templatePath}"\n`,
    );
    containerd = await PrivateContainerd.start({ cri: true, cni: network.dirs, vfsConfigPath });
    ok(await containerd.ctr(['images', 'import', buildBusyboxImage(work, VM_IMAGE)], { namespace: CRI_NAMESPACE }));
    cri = new CriClient(containerd.grpcAddress);
  });

  afterAll(async () => {
    for (const held of heldNetns) execFileSync('umount', [held], { stdio: 'ignore' });
    cri?.close();
    await containerd?.stop();
    network?.remove();
    rmSync(work, { recursive: true, force: true });
    rmSync(templatePath, { recursive: true, force: true });
  });

  /** vfs-runtime with the pods' configuration, on the shims' run dir. */
  function vfsRuntime(args: readonly string[]): string {
    return execFileSync(bundleCli(), args, {
      env: { ...process.env, VFS_CONFIG: vfsConfigPath, VFS_RUN_DIR: containerd.runDir },
      encoding: 'utf8',
    });
  }

  /** The netns a pod's sandbox spec names. */
  function podNetns(podId: string): string {
    const bundle = join(containerd.dir, 'state', 'io.containerd.runtime.v2.task', CRI_NAMESPACE, podId);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
      linux: { namespaces: { type: string; path?: string }[] };
    };
    return spec.linux.namespaces.find((ns) => ns.type === 'network')?.path as string;
  }

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

  test('two vfs pods, one in a pooled VM with a hot-plugged NIC, get their CNI addresses on eth0 inside the guest', async () => {
    const pool = await WarmPoolService.start(containerd.runDir, 1, join(work, 'pool.log'), {
      VFS_CONFIG: vfsConfigPath,
    });
    let pooledQemu: number | null | undefined;
    try {
      await pool.ready(1);
      pooledQemu = (await pool.status()).vms[0]?.qemuPid;
      podA = await runServingPod('vfs', 'net-vfs-a', '0c7a1e5e-0000-4000-8000-0000000012a1');
    } finally {
      await pool.stop();
    }
    podB = await runServingPod('vfs', 'net-vfs-b', '0c7a1e5e-0000-4000-8000-0000000012a2');
    const qemuA = recordedPid(containerd, CRI_NAMESPACE, podA.id, 'qemu');
    expect(qemuA).toBe(pooledQemu);
    for (const pod of [podA, podB]) {
      expect(pod.ip).toMatch(/^10\.250\.12\.\d+$/);
      const eth0 = await execSync(pod.container, ['ip', '-4', '-o', 'addr', 'show', 'eth0']);
      expect(eth0.stdout.toString()).toContain(`inet ${pod.ip}/24`);
      const link = await execSync(pod.container, ['ip', '-o', 'link', 'show', 'eth0']);
      expect(link.stdout.toString()).toMatch(/<[A-Z,_]*\bUP\b[A-Z,_]*> mtu 1500 /);
    }
    expect(podA.ip).not.toBe(podB.ip);
    // The pooled QEMU stays in the host's netns: pod A's netns is the one its sandbox's spec names.
    const netnsA = podNetns(podA.id);
    heldNetns.push(holdNetns(netnsA, join(work, 'netns-a')));
    expect(netnsFootprint(netnsA).links).toEqual(['eth0', 'lo', expect.stringMatching(/^vt[0-9a-f]{12}$/)]);
    // Pod B's QEMU runs in the pod's netns (it opens the tap there).
    const qemuB = recordedPid(containerd, CRI_NAMESPACE, podB.id, 'qemu');
    heldNetns.push(holdNetns(`/proc/${qemuB}/ns/net`, join(work, 'netns-b')));
    expect(netnsFootprint(`/proc/${qemuB}/ns/net`).links).toEqual(['eth0', 'lo', 'vfstap0']);
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

  test('a vfs pod resumed from a VM template gets its NIC hot-plugged, its address, and fetches from pod A', async () => {
    expect(vfsRuntime(['template', 'create'])).toMatch(/MiB held/);
    try {
      podC = await runServingPod('vfs', 'net-vfs-c', '0c7a1e5e-0000-4000-8000-0000000012a4');
    } finally {
      vfsRuntime(['template', 'remove']);
    }
    const qemuC = recordedPid(containerd, CRI_NAMESPACE, podC.id, 'qemu');
    expect(readFileSync(`/proc/${qemuC}/cmdline`, 'utf8').split('\0')).toContain('-incoming');
    const eth0 = await execSync(podC.container, ['ip', '-4', '-o', 'addr', 'show', 'eth0']);
    expect(eth0.stdout.toString()).toContain(`inet ${podC.ip}/24`);
    expect(await fetchPage(podC, podA)).toBe(podA.page);
    const netnsC = podNetns(podC.id);
    heldNetns.push(holdNetns(netnsC, join(work, 'netns-c')));
    expect(netnsFootprint(netnsC).links).toEqual(['eth0', 'lo', expect.stringMatching(/^vt[0-9a-f]{12}$/)]);
  });

  test('RemovePodSandbox leaves no tap, filter or ingress qdisc in the netns, and no tap on the host', async () => {
    for (const pod of [podA, podB, podRunc, podC]) {
      await cri.runtime('stopPodSandbox', StopPodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
      await cri.runtime('removePodSandbox', RemovePodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
    }
    expect(heldNetns).toHaveLength(3);
    // CNI DEL took the veths; what is left of each netns is what vfs would have left.
    for (const held of heldNetns) expect(netnsFootprint(held)).toEqual({ links: ['lo'], ingress: [], filters: '' });
    expect(hostTaps()).toEqual([]);
    expect(network.bridgePorts()).toEqual([]);
    expect(mountsUnder(containerd.dir)).toEqual([]);
  });
});
