// The pods bench-net measures between: each on the private CNI network (a netns with an address
// on the bridge), its one container running `netbench server`, and netbench mounted read-only at
// /bench so the same container also runs the client side through ExecSync. A pod counts as up
// once a round trip from it to itself by its CNI address works: the network is in place then, in
// a runc netns or a vfs guest alike.

import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ContainerConfig,
  CreateContainerRequest,
  ExecSyncRequest,
  Mount,
  NamespaceMode,
  PodSandboxConfig,
  PodSandboxStatusRequest,
  RunPodSandboxRequest,
  StartContainerRequest,
} from '@vfs/proto/gen/k8s.io/cri-api/runtime/v1/api';
import { errorMessage } from '@vfs/contracts';
import type { PrivateContainerd } from '@vfs/harness/containerd';
import type { CriClient } from '@vfs/harness/cri_client';
import type { Handler } from './net_args';

const POD_NETWORK = { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD };
export const NETBENCH_PORT = 5201;
const NETBENCH_IN_POD = '/bench/netbench';
const UP_TIMEOUT_MS = 120_000;

export interface NetBench {
  readonly cri: CriClient;
  readonly containerd: PrivateContainerd;
  readonly image: string;
  readonly logRoot: string;
  /** The host's netbench binary. */
  readonly netbench: string;
}

export interface NetPod {
  readonly handler: Handler;
  readonly id: string;
  readonly ip: string;
  readonly container: string;
}

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs netbench in `pod`'s container with `args`; ExecSync's timeout is in seconds. */
export async function netbenchIn(bench: NetBench, pod: NetPod, args: string[], timeoutS: number): Promise<ExecResult> {
  const result = await bench.cri.runtime(
    'execSync',
    ExecSyncRequest.fromPartial({
      containerId: pod.container,
      cmd: [NETBENCH_IN_POD, ...args],
      timeout: BigInt(timeoutS),
    }),
    (timeoutS + 30) * 1000,
  );
  return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

function podConfig(bench: NetBench, name: string, uid: string): PodSandboxConfig {
  return PodSandboxConfig.fromPartial({
    metadata: { name, uid, namespace: 'default', attempt: 0 },
    hostname: name,
    logDirectory: join(bench.logRoot, `default_${name}_${uid}`),
    linux: {
      cgroupParent: bench.containerd.podCgroupParent(uid),
      securityContext: { namespaceOptions: POD_NETWORK },
    },
  });
}

function serverConfig(bench: NetBench): ContainerConfig {
  return ContainerConfig.fromPartial({
    metadata: { name: 'netbench', attempt: 0 },
    image: { image: bench.image },
    command: [NETBENCH_IN_POD, 'server', String(NETBENCH_PORT)],
    mounts: [Mount.fromPartial({ containerPath: '/bench', hostPath: dirname(bench.netbench), readonly: true })],
    logPath: 'netbench/0.log',
    linux: { securityContext: { namespaceOptions: POD_NETWORK } },
  });
}

async function untilUp(bench: NetBench, pod: NetPod): Promise<void> {
  const deadline = Date.now() + UP_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const result = await netbenchIn(bench, pod, ['rr', pod.ip, String(NETBENCH_PORT), '1'], 10).catch(
      (err: unknown): ExecResult => ({ exitCode: -1, stdout: '', stderr: errorMessage(err) }),
    );
    if (result.exitCode === 0) return;
    last = result.stderr.trim();
    await sleep(500);
  }
  throw new Error(`no round trip to its own address ${pod.ip} within ${UP_TIMEOUT_MS / 1000} s: ${last}`);
}

/** Starts a `handler` pod running the netbench server; resolves once it answers on its CNI address. */
export async function startNetPod(bench: NetBench, handler: Handler, name: string): Promise<NetPod> {
  const config = podConfig(bench, name, randomUUID());
  const { cri } = bench;
  const { podSandboxId: id } = await cri.runtime(
    'runPodSandbox',
    RunPodSandboxRequest.fromPartial({ config, runtimeHandler: handler }),
    180_000,
  );
  const { containerId: container } = await cri.runtime(
    'createContainer',
    CreateContainerRequest.fromPartial({ podSandboxId: id, config: serverConfig(bench), sandboxConfig: config }),
  );
  await cri.runtime('startContainer', StartContainerRequest.fromPartial({ containerId: container }));
  const { status } = await cri.runtime('podSandboxStatus', PodSandboxStatusRequest.fromPartial({ podSandboxId: id }));
  const ip = status?.network?.ip ?? '';
  if (ip === '') throw new Error(`${handler} pod ${name} has no CNI address`);
  const pod = { handler, id, ip, container };
  await untilUp(bench, pod);
  return pod;
}
