// The private CNI network of the harness (issue 12), proved with runc as the reference: a
// PrivateContainerd with CRI and a CniNetwork (Debian's bridge + host-local plugins, a bridge of
// this run's own, a private subnet). Two runc pods get addresses on the bridge, one serves HTTP
// (busybox httpd) and the other fetches from it by address; after RemovePodSandbox no veth,
// lease, netns or cached CNI result is left, and after stop no bridge.
// Needs root, Debian's containerd, runc and containernetworking-plugins (scripts/ensure-deps.sh).

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
import { CniNetwork } from '@vfs/harness/cni_network';
import { mountsUnder, PrivateContainerd } from '@vfs/harness/containerd';
import { CriClient } from '@vfs/harness/cri_client';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { ok, VM_IMAGE, waitFor } from '@vfs/harness/vm_checks';

jest.setTimeout(120_000);

const CRI_NAMESPACE = 'k8s.io';
const SUBNET = '10.250.0.0/24';
// The pod's own network namespace (the one CNI fills), as a pod without hostNetwork has it.
const POD_NETWORK = { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD };
const PAGE = 'served from pod A\n';
const CNI_RESULTS = '/var/lib/cni/results';

interface Pod {
  readonly id: string;
  readonly ip: string;
  readonly container: string;
}

describe('a private CNI bridge network for CRI pods (runc)', () => {
  let work: string;
  let network: CniNetwork;
  let containerd: PrivateContainerd;
  let cri: CriClient;
  let server: Pod;
  let client: Pod;

  beforeAll(async () => {
    work = mkdtempSync('/tmp/vfs-e2e-cni-');
    network = CniNetwork.create({ subnet: SUBNET });
    containerd = await PrivateContainerd.start({ cri: true, cni: network.dirs });
    ok(await containerd.ctr(['images', 'import', buildBusyboxImage(work, VM_IMAGE)], { namespace: CRI_NAMESPACE }));
    cri = new CriClient(containerd.grpcAddress);
  });

  afterAll(async () => {
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
      linux: { cgroupParent: containerd.podCgroupParent(uid), securityContext: { namespaceOptions: POD_NETWORK } },
    });
  }

  async function runPod(name: string, uid: string, command: string[]): Promise<Pod> {
    const config = podConfig(name, uid);
    const { podSandboxId: id } = await cri.runtime(
      'runPodSandbox',
      RunPodSandboxRequest.fromPartial({ config, runtimeHandler: 'runc' }),
    );
    const { containerId: container } = await cri.runtime(
      'createContainer',
      CreateContainerRequest.fromPartial({
        podSandboxId: id,
        sandboxConfig: config,
        config: ContainerConfig.fromPartial({
          metadata: { name, attempt: 0 },
          image: { image: VM_IMAGE },
          command,
          logPath: `${name}/0.log`,
          linux: { securityContext: { namespaceOptions: POD_NETWORK } },
        }),
      }),
    );
    await cri.runtime('startContainer', StartContainerRequest.fromPartial({ containerId: container }));
    const { status } = await cri.runtime('podSandboxStatus', PodSandboxStatusRequest.fromPartial({ podSandboxId: id }));
    return { id, ip: status?.network?.ip ?? '', container };
  }

  function execSync(containerId: string, cmd: string[]): Promise<ExecSyncResponse> {
    return cri.runtime('execSync', ExecSyncRequest.fromPartial({ containerId, cmd, timeout: 30n }));
  }

  test('gives each pod its own address on the bridge, on eth0 in the pod', async () => {
    server = await runPod('cni-server', '0c7a1e5e-0000-4000-8000-0000000000a1', [
      'sh',
      '-c',
      `mkdir -p /www && printf '${PAGE.replace('\n', '\\n')}' > /www/index.html && exec httpd -f -p 80 -h /www`,
    ]);
    client = await runPod('cni-client', '0c7a1e5e-0000-4000-8000-0000000000a2', ['sleep', '3600']);
    expect(server.ip).toMatch(/^10\.250\.0\.\d+$/);
    expect(client.ip).toMatch(/^10\.250\.0\.\d+$/);
    expect(client.ip).not.toBe(server.ip);
    expect(network.bridgePorts()).toHaveLength(2);
    expect(
      readdirSync(network.leaseDir)
        .flatMap((d) => readdirSync(join(network.leaseDir, d)))
        .sort(),
    ).toEqual(expect.arrayContaining([server.ip, client.ip]));
    const eth0 = await execSync(client.container, ['ip', '-4', '-o', 'addr', 'show', 'eth0']);
    expect(eth0.stdout.toString()).toContain(`inet ${client.ip}/24`);
  });

  test('one pod fetches HTTP from the other by its address', async () => {
    // Not wget -T: Debian's busybox-static 1.35 wget segfaults with it.
    const fetch = ['timeout', '10', 'wget', '-q', '-O-', `http://${server.ip}/`];
    let last = '';
    const fetched = await waitFor(
      'the server pod to answer',
      async () => {
        const result = await execSync(client.container, fetch);
        last = `exit ${result.exitCode}: ${result.stderr.toString()}`;
        return result.exitCode === 0 ? result : undefined;
      },
      30_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; wget: ${last}`);
    });
    expect(fetched.stdout.toString()).toBe(PAGE);
  });

  test('RemovePodSandbox leaves no veth, lease, netns or cached CNI result; stop removes the bridge', async () => {
    for (const pod of [server, client]) {
      await cri.runtime('stopPodSandbox', StopPodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
      await cri.runtime('removePodSandbox', RemovePodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
    }
    expect(network.bridgePorts()).toEqual([]);
    const leases = readdirSync(network.leaseDir).flatMap((d) => readdirSync(join(network.leaseDir, d)));
    expect(leases.filter((name) => /^\d+\.\d+\.\d+\.\d+$/.test(name))).toEqual([]);
    expect(mountsUnder(containerd.dir)).toEqual([]);
    // libcni's result cache, which containerd's CNI calls fill (other runs may use it too).
    const results = existsSync(CNI_RESULTS) ? readdirSync(CNI_RESULTS) : [];
    expect(results.filter((file) => file.startsWith(`${network.name}-`))).toEqual([]);

    await containerd.stop();
    network.remove();
    expect(network.bridgeExists()).toBe(false);
    expect(existsSync(network.dir)).toBe(false);
  });
});
