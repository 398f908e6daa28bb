// The private containerd both modes run on, with the offline images the cells use imported;
// stopped (with every shim, VM and mount it started) by the benchmark's clean-up.

import { PrivateContainerd } from '@vfs/harness/containerd';
import type { BenchScope } from '../../bench_common/bench_main';
import { BENCH_IMAGES } from './images';
import type { ImageName } from './matrix';

export async function startContainerd(
  scope: BenchScope,
  namespace: string,
  images: readonly ImageName[],
  env: Readonly<Record<string, string>> = {},
): Promise<PrivateContainerd> {
  const containerd = await PrivateContainerd.start({ env });
  scope.defer('stop containerd', () => containerd.stop());
  scope.explainFailure(() => `containerd log tail:\n${containerd.logTail(15)}`);
  for (const name of new Set(images)) {
    const imported = await containerd.ctr(['images', 'import', BENCH_IMAGES[name].build(scope.work)], {
      namespace,
      timeoutMs: 300_000,
    });
    if (imported.code !== 0) throw new Error(`ctr images import (${name}) failed: ${imported.stderr}`);
  }
  return containerd;
}
