// One pod's life through CRI, timed call by call as kubelet makes them: RunPodSandbox,
// CreateContainer, StartContainer, then ContainerStatus polled until RUNNING (the pod has started);
// StopPodSandbox and RemovePodSandbox (teardown); then until the pod's shim has exited (with vfs,
// its VM is down by then), and the pod's cgroup goes, as kubelet removes it. Host CPU is sampled
// before the first call, at RUNNING and once the shim is gone.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ContainerState,
  ContainerStatusRequest,
  CreateContainerRequest,
  RemovePodSandboxRequest,
  RunPodSandboxRequest,
  StartContainerRequest,
  StopPodSandboxRequest,
} from '@vfs/proto/gen/k8s.io/cri-api/runtime/v1/api';
import { errorMessage } from '@vfs/contracts';
import type { PrivateContainerd } from '@vfs/harness/containerd';
import type { CriClient } from '@vfs/harness/cri_client';
import { cgroupDirsUnder, removeCgroupDirs, shimPidsServing } from '@vfs/harness/host_leftovers';
import { type CpuMeter, type CpuSpent, cpuSpent } from '../bench_common/cpu_meter';
import { podConfig, sleeperConfig } from './pod_specs';

export type Handler = 'runc' | 'vfs';

/** Each phase ends at its call's answer; the sums and the shim's exit are listed after them. */
export const POD_PHASES = [
  { key: 'run_pod_sandbox', label: 'RunPodSandbox' },
  { key: 'create_container', label: 'CreateContainer' },
  { key: 'start_container', label: 'StartContainer' },
  { key: 'running_seen', label: 'ContainerStatus RUNNING' },
  { key: 'start_total', label: 'pod start (sum)' },
  { key: 'stop_pod_sandbox', label: 'StopPodSandbox' },
  { key: 'remove_pod_sandbox', label: 'RemovePodSandbox' },
  { key: 'teardown_total', label: 'teardown (sum)' },
  { key: 'shim_exit', label: 'Remove → shim exited' },
] as const;

export type PodPhase = (typeof POD_PHASES)[number]['key'];

export interface PodRun {
  readonly phases: Readonly<Record<PodPhase, number>>;
  readonly cpu: { readonly start: CpuSpent; readonly teardown: CpuSpent };
}

export interface PodBench {
  readonly cri: CriClient;
  readonly containerd: PrivateContainerd;
  readonly meter: CpuMeter;
  readonly image: string;
  readonly logRoot: string;
}

const POLL_MS = 5;
const RUNNING_TIMEOUT_MS = 60_000;
const SHIM_EXIT_TIMEOUT_MS = 30_000;

async function untilRunning(cri: CriClient, containerId: string): Promise<void> {
  const deadline = performance.now() + RUNNING_TIMEOUT_MS;
  for (;;) {
    const { status } = await cri.runtime('containerStatus', ContainerStatusRequest.fromPartial({ containerId }));
    if (status?.state === ContainerState.CONTAINER_RUNNING) return;
    if (status?.state === ContainerState.CONTAINER_EXITED)
      throw new Error(`the container exited (code ${status.exitCode}, ${status.reason}) before it was seen running`);
    if (performance.now() > deadline) throw new Error(`the container was not RUNNING within ${RUNNING_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

async function untilShimsExited(address: string): Promise<void> {
  const deadline = performance.now() + SHIM_EXIT_TIMEOUT_MS;
  while (shimPidsServing(address).length > 0) {
    if (performance.now() > deadline)
      throw new Error(`the pod's shim did not exit within ${SHIM_EXIT_TIMEOUT_MS} ms of RemovePodSandbox`);
    await sleep(POLL_MS);
  }
}

/** Marks the end of each step; the step's name goes into any error it throws. */
class StepClock {
  readonly marks: number[] = [performance.now()];

  constructor(private readonly what: string) {}

  async step<T>(name: string, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      this.marks.push(performance.now());
      return result;
    } catch (err) {
      throw new Error(`${this.what}: ${name}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Time from mark `from` to mark `to`. */
  span(from: number, to: number): number {
    return (this.marks[to] as number) - (this.marks[from] as number);
  }
}

export async function timePod(bench: PodBench, handler: Handler, name: string): Promise<PodRun> {
  const { cri, containerd, meter } = bench;
  const uid = randomUUID();
  const cgroupParent = containerd.podCgroupParent(uid);
  const config = podConfig({ name, uid, cgroupParent, logRoot: bench.logRoot });
  const clock = new StepClock(`${handler} pod ${name}`);
  const cpu0 = meter.sample();
  const { podSandboxId } = await clock.step('RunPodSandbox', () =>
    cri.runtime('runPodSandbox', RunPodSandboxRequest.fromPartial({ config, runtimeHandler: handler })),
  );
  // sandboxConfig is required: containerd 1.6.20 panics (and exits) without it.
  const { containerId } = await clock.step('CreateContainer', () =>
    cri.runtime(
      'createContainer',
      CreateContainerRequest.fromPartial({ podSandboxId, config: sleeperConfig(bench.image), sandboxConfig: config }),
    ),
  );
  await clock.step('StartContainer', () =>
    cri.runtime('startContainer', StartContainerRequest.fromPartial({ containerId })),
  );
  await clock.step('ContainerStatus until RUNNING', () => untilRunning(cri, containerId));
  const cpu1 = meter.sample();
  await clock.step('StopPodSandbox', () =>
    cri.runtime('stopPodSandbox', StopPodSandboxRequest.fromPartial({ podSandboxId })),
  );
  await clock.step('RemovePodSandbox', () =>
    cri.runtime('removePodSandbox', RemovePodSandboxRequest.fromPartial({ podSandboxId })),
  );
  await clock.step('waiting for the shim to exit', () => untilShimsExited(containerd.grpcAddress));
  const stuck = removeCgroupDirs(cgroupDirsUnder(cgroupParent));
  if (stuck.length > 0) throw new Error(`${handler} pod ${name}: its cgroups would not go: ${stuck.join(', ')}`);
  const cpu2 = meter.sample();
  const span = (from: number, to: number): number => clock.span(from, to);
  return {
    phases: {
      run_pod_sandbox: span(0, 1),
      create_container: span(1, 2),
      start_container: span(2, 3),
      running_seen: span(3, 4),
      start_total: span(0, 4),
      stop_pod_sandbox: span(4, 5),
      remove_pod_sandbox: span(5, 6),
      teardown_total: span(4, 6),
      shim_exit: span(6, 7),
    },
    cpu: { start: cpuSpent(cpu0, cpu1), teardown: cpuSpent(cpu1, cpu2) },
  };
}
