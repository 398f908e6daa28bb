// Kubernetes pods through containerd's CRI plugin, with this test playing kubelet (issue 8): a
// private containerd with CRI (Debian's 1.6, trixie's 1.7, forky's 2.x), driven over gRPC by
// CriClient (the runtime.v1 API). For each
// runtime handler, one host-network pod (there is no CNI) runs two containers: one prints and exits
// with a code, one keeps running for ExecSync and the volumes. Then StopPodSandbox and
// RemovePodSandbox, and nothing may be left. runc is the reference; vfs takes the same steps and
// must also run each pod in exactly one QEMU.
// Needs root, Debian's containerd and runc, gcc; for vfs also `make build runtime`.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import {
  ContainerConfig,
  ContainerState,
  ContainerStatsRequest,
  type ContainerStatus,
  ContainerStatusRequest,
  CreateContainerRequest,
  ExecSyncRequest,
  type ExecSyncResponse,
  ListContainersRequest,
  ListPodSandboxRequest,
  Mount,
  NamespaceMode,
  PodSandboxConfig,
  PodSandboxState,
  PodSandboxStatsRequest,
  PodSandboxStatusRequest,
  RemovePodSandboxRequest,
  RunPodSandboxRequest,
  StartContainerRequest,
  StopPodSandboxRequest,
} from '@vfs/proto/gen/k8s.io/cri-api/runtime/v1/api';
import { bundleShim } from '@vfs/harness/bundles';
import {
  type ContainerdBinaries,
  type ContainerdOptions,
  containerd17,
  containerd2,
  mountsUnder,
  PrivateContainerd,
  SYSTEM_CONTAINERD,
} from '@vfs/harness/containerd';
import { CriClient, CriError } from '@vfs/harness/cri_client';
import { cgroupDirsUnder, pidsInCgroups, removeCgroupDirs, shimPidsServing } from '@vfs/harness/host_leftovers';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { cgroupPathsOf, childPids, stillRunning } from '@vfs/harness/process';
import { ok, pidAlive, recordedPid, sandboxDirs, VM_IMAGE, waitFor } from '@vfs/harness/vm_checks';

jest.setTimeout(180_000);

type Handler = 'runc' | 'vfs';
const CRI_NAMESPACE = 'k8s.io';
// Host network (no CNI here): the pod keeps the host's net and UTS namespaces, as a hostNetwork
// pod does. Containers repeat the pod's modes, as kubelet sends them.
const HOST_NETWORK = { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD };
// The pod's memory limit (PodSandboxConfig.linux.resources).
const POD_MEMORY_MIB = 128;
// CRI log lines: RFC 3339 time with nanoseconds, stream, F(ull) or P(artial), the text.
const LOG_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) F (.*)$/;

interface Pod {
  readonly id: string;
  readonly uid: string;
  readonly config: PodSandboxConfig;
  readonly readOnlyDir: string;
  readonly readWriteDir: string;
  readonly exiter: string;
  readonly sleeper: string;
}

/** QEMU processes running the VM of sandbox `id` (the shim names the VM vfs-<sandbox id>). */
function qemusOf(id: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return (
          (argv[0] ?? '').includes('qemu-system') &&
          argv.some((arg, i) => arg === '-name' && argv[i + 1] === `vfs-${id}`)
        );
      } catch {
        return false; // gone meanwhile
      }
    });
}

interface Containerd {
  readonly binaries: () => ContainerdBinaries;
  /** The VM's base memory: the default, or inline options' (containerd 2.x). */
  readonly guestMiB: number;
  readonly options: Partial<ContainerdOptions>;
}

// containerd 1.7 and 2.x (on a version 3 config) get a [hypervisor] table in the vfs runtime's
// options table, with an empty ConfigPath: containerd sends it all as config_body (1.6 sends none).
const INLINE_OPTIONS = { vfsOptions: { hypervisor: { memory_mib: 640 } } };
const CONTAINERDS: [string, Containerd][] = [
  ['1.6', { binaries: () => SYSTEM_CONTAINERD, guestMiB: 512, options: {} }],
  ['1.7', { binaries: containerd17, guestMiB: 640, options: INLINE_OPTIONS }],
  ['2.x', { binaries: containerd2, guestMiB: 640, options: INLINE_OPTIONS }],
];

describe.each(CONTAINERDS)('Kubernetes pods through containerd %s CRI', (_release, { binaries, guestMiB, options }) => {
  let work: string;
  let containerd: PrivateContainerd;
  let cri: CriClient;

  beforeAll(async () => {
    work = mkdtempSync('/tmp/vfs-e2e-cri-');
    containerd = await PrivateContainerd.start({ ...options, cri: true, binaries: binaries() });
    ok(await containerd.ctr(['images', 'import', buildBusyboxImage(work, VM_IMAGE)], { namespace: CRI_NAMESPACE }));
    cri = new CriClient(containerd.grpcAddress);
  });

  afterAll(async () => {
    cri?.close();
    await containerd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  function podConfig(handler: Handler, uid: string): PodSandboxConfig {
    const name = `cri-${handler}`;
    return PodSandboxConfig.fromPartial({
      metadata: { name, uid, namespace: 'default', attempt: 0 },
      // Must be empty in the host's UTS namespace (runc: "unable to set hostname without a private UTS namespace").
      hostname: '',
      logDirectory: join(work, 'pods', `default_${name}_${uid}`),
      labels: {
        'io.kubernetes.pod.name': name,
        'io.kubernetes.pod.namespace': 'default',
        'io.kubernetes.pod.uid': uid,
      },
      linux: {
        cgroupParent: containerd.podCgroupParent(uid),
        securityContext: { namespaceOptions: HOST_NETWORK },
        // The sum of the containers' limits, as kubelet sends it: a vfs VM is sized for it.
        resources: { memoryLimitInBytes: BigInt(POD_MEMORY_MIB << 20), cpuQuota: 100_000n, cpuPeriod: 100_000n },
      },
    });
  }

  function containerConfig(name: string, command: string[], mounts: Mount[] = []): ContainerConfig {
    return ContainerConfig.fromPartial({
      metadata: { name, attempt: 0 },
      image: { image: VM_IMAGE },
      command,
      mounts,
      // Relative to the pod's logDirectory, as kubelet names it: <container>/<restart count>.log.
      logPath: `${name}/0.log`,
      labels: { 'io.kubernetes.container.name': name },
      linux: { securityContext: { namespaceOptions: HOST_NETWORK } },
    });
  }

  async function startContainer(
    podId: string,
    sandboxConfig: PodSandboxConfig,
    config: ContainerConfig,
  ): Promise<string> {
    // sandboxConfig is required: containerd 1.6.20 panics (and exits) without it.
    const { containerId } = await cri.runtime(
      'createContainer',
      CreateContainerRequest.fromPartial({ podSandboxId: podId, config, sandboxConfig }),
    );
    await cri.runtime('startContainer', StartContainerRequest.fromPartial({ containerId }));
    return containerId;
  }

  async function containerStatus(containerId: string): Promise<ContainerStatus> {
    const { status: current } = await cri.runtime(
      'containerStatus',
      ContainerStatusRequest.fromPartial({ containerId }),
    );
    if (current === undefined) throw new Error(`ContainerStatus of ${containerId} has no status`);
    return current;
  }

  /** Polls ContainerStatus: containerd reports an exit some 100–200 ms after it happened. */
  function statusOnceIn(containerId: string, state: ContainerState): Promise<ContainerStatus> {
    return waitFor(`container ${containerId} to be ${ContainerState[state]}`, async () => {
      const current = await containerStatus(containerId);
      return current.state === state ? current : undefined;
    });
  }

  function execSync(containerId: string, cmd: string[]): Promise<ExecSyncResponse> {
    return cri.runtime('execSync', ExecSyncRequest.fromPartial({ containerId, cmd, timeout: 30n }));
  }

  async function runPod(handler: Handler): Promise<Pod> {
    const uid = `0c7a1e5e-0000-4000-8000-${handler === 'runc' ? '000000000001' : '000000000002'}`;
    const config = podConfig(handler, uid);
    const readOnlyDir = join(work, handler, 'read-only');
    const readWriteDir = join(work, handler, 'read-write');
    mkdirSync(readOnlyDir, { recursive: true });
    mkdirSync(readWriteDir, { recursive: true });
    writeFileSync(join(readOnlyDir, 'hello.txt'), 'from the host\n');
    const { podSandboxId: id } = await cri.runtime(
      'runPodSandbox',
      RunPodSandboxRequest.fromPartial({ config, runtimeHandler: handler }),
    );
    const exiter = await startContainer(
      id,
      config,
      containerConfig('exiter', ['sh', '-c', 'echo line-one; echo to-stderr >&2; exit 3']),
    );
    const sleeper = await startContainer(
      id,
      config,
      containerConfig(
        'sleeper',
        ['sleep', '3600'],
        [
          Mount.fromPartial({ containerPath: '/data', hostPath: readOnlyDir, readonly: true }),
          Mount.fromPartial({ containerPath: '/rw', hostPath: readWriteDir, readonly: false }),
        ],
      ),
    );
    return { id, uid, config, readOnlyDir, readWriteDir, exiter, sleeper };
  }

  describe.each<Handler>(['runc', 'vfs'])('a two-container pod with runtime handler %s', (handler) => {
    let pod: Pod;

    beforeAll(async () => {
      if (handler === 'vfs') bundleShim();
      pod = await runPod(handler);
    });

    test('runs the pod ready, in exactly one QEMU with vfs (its base size plus the pod limits) and none with runc', async () => {
      const { status: podStatus } = await cri.runtime(
        'podSandboxStatus',
        PodSandboxStatusRequest.fromPartial({ podSandboxId: pod.id }),
      );
      expect(podStatus).toMatchObject({ state: PodSandboxState.SANDBOX_READY, runtimeHandler: handler });
      expect(podStatus?.linux?.namespaces?.options).toMatchObject(HOST_NETWORK);
      await statusOnceIn(pod.sleeper, ContainerState.CONTAINER_RUNNING);
      const qemus = qemusOf(pod.id);
      if (handler === 'vfs') {
        expect(qemus).toEqual([recordedPid(containerd, CRI_NAMESPACE, pod.id, 'qemu')]);
        // static_sandbox_resource_mgmt: the base size plus the pod's limits (1 vCPU's quota).
        const argv = readFileSync(`/proc/${qemus[0]}/cmdline`, 'utf8').split('\0');
        expect(argv[argv.indexOf('-m') + 1]).toMatch(new RegExp(`^${guestMiB + POD_MEMORY_MIB}M(,|$)`));
        expect(argv[argv.indexOf('-smp') + 1]).toBe(String(Math.min(2, availableParallelism())));
        // The VM lives where runc would have put the pause container (in every hierarchy): under the pod's cgroup.
        const sandboxCgroup = `${containerd.podCgroupParent(pod.uid)}/${pod.id}`;
        const daemon = recordedPid(containerd, CRI_NAMESPACE, pod.id, 'virtiofsd');
        for (const pid of [qemus[0] as number, daemon, ...childPids(daemon)])
          expect(new Set(cgroupPathsOf(pid))).toEqual(new Set([sandboxCgroup]));
      } else {
        expect(qemus).toEqual([]);
      }
    });

    test('reports the exit code of a container that exited through ContainerStatus', async () => {
      const exited = await statusOnceIn(pod.exiter, ContainerState.CONTAINER_EXITED);
      expect(exited).toMatchObject({ exitCode: 3, reason: 'Error' });
      expect(exited.startedAt).toBeGreaterThan(0n);
      // Not after startedAt: containerd takes that time once the start call returned, and a quick
      // process may have exited by then.
      expect(exited.finishedAt).toBeGreaterThan(exited.createdAt);
    });

    test('writes the container output to its CRI log file, a timestamped line per stream', async () => {
      const { logPath } = await statusOnceIn(pod.exiter, ContainerState.CONTAINER_EXITED);
      expect(logPath).toBe(join(pod.config.logDirectory, 'exiter', '0.log'));
      // stdout and stderr are copied separately: their lines need not be in time order.
      const lines = await waitFor('both log lines', () => {
        const text = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
        const found = text.split('\n').filter((line) => line !== '');
        return found.length === 2 ? found : undefined;
      });
      const parsed = lines.map((line) => LOG_LINE.exec(line));
      expect(parsed.map((match) => (match === null ? null : [match[2], match[3]])).sort()).toEqual([
        ['stderr', 'to-stderr'],
        ['stdout', 'line-one'],
      ]);
      for (const match of parsed) expect(Number.isNaN(Date.parse(match?.[1] ?? ''))).toBe(false);
    });

    test('answers ExecSync with output and exit code, and fails it for a missing binary', async () => {
      expect(await execSync(pod.sleeper, ['echo', 'hi'])).toMatchObject({
        exitCode: 0,
        stdout: Buffer.from('hi\n'),
        stderr: Buffer.alloc(0),
      });
      const failing = await execSync(pod.sleeper, ['sh', '-c', 'echo out; echo err >&2; exit 7']);
      expect(failing).toMatchObject({ exitCode: 7, stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n') });
      // Not an exit code: the exec cannot start, and CRI answers with an error (runc: UNKNOWN).
      const missing = execSync(pod.sleeper, ['/no/such/binary']);
      await expect(missing).rejects.toBeInstanceOf(CriError);
      await expect(missing).rejects.toMatchObject({ details: expect.stringContaining('/no/such/binary') });
    });

    test("reports a running container's and the pod's CPU time and memory through ContainerStats and PodSandboxStats (kubectl top)", async () => {
      // Some CPU time first: the sleeper itself has used next to none.
      expect(
        await execSync(pod.sleeper, ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done']),
      ).toMatchObject({
        exitCode: 0,
      });
      const { stats } = await cri.runtime(
        'containerStats',
        ContainerStatsRequest.fromPartial({ containerId: pod.sleeper }),
      );
      expect(stats?.attributes?.id).toBe(pod.sleeper);
      expect(stats?.cpu?.usageCoreNanoSeconds?.value ?? 0n).toBeGreaterThan(0n);
      expect(stats?.memory?.workingSetBytes?.value ?? 0n).toBeGreaterThan(0n);
      // The pod's own, from its cgroup on the host: with vfs the VM's (its guest RAM among them).
      const { stats: podStats } = await cri.runtime(
        'podSandboxStats',
        PodSandboxStatsRequest.fromPartial({ podSandboxId: pod.id }),
      );
      expect(podStats?.linux?.cpu?.usageCoreNanoSeconds?.value ?? 0n).toBeGreaterThan(0n);
      const podMemory = podStats?.linux?.memory?.workingSetBytes?.value ?? 0n;
      expect(podMemory).toBeGreaterThan(handler === 'vfs' ? BigInt(64 << 20) : 0n);
    });

    test('mounts host directories: read-only refuses writes (EROFS), read-write writes reach the host', async () => {
      const readOnly = await execSync(pod.sleeper, ['sh', '-c', 'cat /data/hello.txt && touch /data/new']);
      expect(readOnly.stdout.toString()).toBe('from the host\n');
      expect(readOnly.exitCode).not.toBe(0);
      expect(readOnly.stderr.toString()).toMatch(/Read-only file system/);
      expect(existsSync(join(pod.readOnlyDir, 'new'))).toBe(false);

      expect(await execSync(pod.sleeper, ['sh', '-c', 'echo written in the pod > /rw/out'])).toMatchObject({
        exitCode: 0,
      });
      expect(readFileSync(join(pod.readWriteDir, 'out'), 'utf8')).toBe('written in the pod\n');
    });

    test('StopPodSandbox stops the running container, RemovePodSandbox removes the pod, and nothing is left', async () => {
      const qemus = qemusOf(pod.id);
      const recorded = containerd.recordedProcesses();
      await cri.runtime('stopPodSandbox', StopPodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
      expect(await containerStatus(pod.sleeper)).toMatchObject({
        state: ContainerState.CONTAINER_EXITED,
        exitCode: 137,
      });
      const { status: stopped } = await cri.runtime(
        'podSandboxStatus',
        PodSandboxStatusRequest.fromPartial({ podSandboxId: pod.id }),
      );
      expect(stopped?.state).toBe(PodSandboxState.SANDBOX_NOTREADY);

      await cri.runtime('removePodSandbox', RemovePodSandboxRequest.fromPartial({ podSandboxId: pod.id }));
      await expect(containerStatus(pod.sleeper)).rejects.toMatchObject({ code: status.NOT_FOUND });
      const { items } = await cri.runtime('listPodSandbox', ListPodSandboxRequest.fromPartial({}));
      expect(items.map((item) => item.id)).not.toContain(pod.id);
      const { containers } = await cri.runtime('listContainers', ListContainersRequest.fromPartial({}));
      expect(containers.filter((container) => container.podSandboxId === pod.id)).toEqual([]);

      // The pod's shim exits once its last container is deleted, and takes its QEMU with it.
      await waitFor('the shim to exit', () => shimPidsServing(containerd.grpcAddress).length === 0, 15_000);
      expect([...qemus.filter(pidAlive), ...recorded.filter(stillRunning).map((p) => p.pid)]).toEqual([]);
      expect(qemusOf(pod.id)).toEqual([]);
      expect(sandboxDirs(containerd, CRI_NAMESPACE)).toEqual([]);
      expect(mountsUnder(containerd.dir)).toEqual([]);
      // The runtime removed the containers' cgroups; the pod's own is kubelet's to remove.
      const podCgroups = cgroupDirsUnder(containerd.podCgroupParent(pod.uid));
      expect(pidsInCgroups(podCgroups)).toEqual([]);
      expect(podCgroups.filter((dir) => !dir.endsWith(containerd.podCgroupParent(pod.uid)))).toEqual([]);
      expect(removeCgroupDirs(podCgroups)).toEqual([]);
    });
  });
});
