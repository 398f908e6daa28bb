// The set-up the CRI benchmarks share (bench-pods, bench-net): a CPU cgroup, a private containerd
// with CRI moved into it (plus the pods' cgroups), the offline busybox image in namespace k8s.io,
// and a CRI client. Each piece is undone through the bench scope, the cgroup last.

import { basename } from 'node:path';
import type { CniDirs } from '@vfs/harness/cni_network';
import { PrivateContainerd } from '@vfs/harness/containerd';
import { CriClient } from '@vfs/harness/cri_client';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { type BenchScope, progress } from './bench_main';
import { CpuMeter } from './cpu_meter';

export const CRI_NAMESPACE = 'k8s.io';
export const BENCH_IMAGE = 'docker.io/library/busybox:vfs-bench';

export interface CriBench {
  readonly containerd: PrivateContainerd;
  readonly cri: CriClient;
  readonly meter: CpuMeter;
}

/** `name` prefixes the progress lines; `cni` gives pods a network (none: host network). */
export async function startCriBench(scope: BenchScope, name: string, cni?: CniDirs): Promise<CriBench> {
  // Removed last, once containerd and everything it started are gone.
  const meter = CpuMeter.create(basename(scope.work));
  scope.defer('remove the CPU cgroup', () => meter.remove());
  progress(`${name}: starting a private containerd with CRI, importing the offline busybox and pause images`);
  const containerd = await PrivateContainerd.start({ cri: true, ...(cni === undefined ? {} : { cni }) });
  scope.defer('stop containerd', () => containerd.stop());
  scope.explainFailure(() => `containerd log tail:\n${containerd.logTail(15)}`);
  progress(`${name}: work dir ${scope.work}, containerd dir ${containerd.dir}, CPU cgroup ${meter.dir}`);
  if (containerd.pid === undefined) throw new Error('containerd has no pid');
  meter.adopt(containerd.pid);
  meter.include(containerd.podCgroupRoot);
  const imported = await containerd.ctr(['images', 'import', buildBusyboxImage(scope.work, BENCH_IMAGE)], {
    namespace: CRI_NAMESPACE,
    timeoutMs: 120_000,
  });
  if (imported.code !== 0) throw new Error(`ctr images import failed: ${imported.stderr}`);
  const cri = new CriClient(containerd.grpcAddress);
  scope.defer('close the CRI client', () => cri.close());
  return { containerd, cri, meter };
}
