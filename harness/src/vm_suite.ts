// The set-up most VM e2e files share: the shim bundled, a private containerd, a work dir and the
// offline busybox image imported, all registered as the suite's beforeAll/afterAll so that each
// file stops and removes what it started.

import { mkdtempSync, rmSync } from 'node:fs';
import { bundleShim } from './bundles';
import { type CtrResult, PrivateContainerd } from './containerd';
import { buildBusyboxImage } from './oci_image';
import { ok, VM_IMAGE } from './vm_checks';

export interface VmSuite {
  /** The suite's temp dir (`/tmp/vfs-e2e-<name>-…`), removed after the suite. */
  readonly work: string;
  readonly containerd: PrivateContainerd;
  /** `ctr` in the suite's namespace. */
  ctr(args: readonly string[]): Promise<CtrResult>;
}

/** Call at the top of a `describe`: the fields are valid inside its hooks and tests. */
export function useVmSuite(name: string, namespace: string, ctrTimeoutMs = 90_000): VmSuite {
  let work: string | undefined;
  let containerd: PrivateContainerd | undefined;
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the VM suite's ${what} is used before beforeAll ran`);
    return value;
  };
  const suite: VmSuite = {
    get work() {
      return started(work, 'work dir');
    },
    get containerd() {
      return started(containerd, 'containerd');
    },
    ctr: (args) => suite.containerd.ctr(args, { namespace, timeoutMs: ctrTimeoutMs }),
  };
  beforeAll(async () => {
    bundleShim();
    work = mkdtempSync(`/tmp/vfs-e2e-${name}-`);
    containerd = await PrivateContainerd.start();
    ok(await suite.ctr(['images', 'import', buildBusyboxImage(work, VM_IMAGE)]));
  });
  afterAll(async () => {
    await containerd?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });
  return suite;
}
