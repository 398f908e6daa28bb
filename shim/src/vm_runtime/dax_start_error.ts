// A QEMU that cannot give the container shares their DAX windows refuses their device at start
// and exits: an upstream QEMU has no `cache-size` property on vhost-user-fs-pci, ours refuses a
// back end without vhost-user shared memory. Either way QEMU's stderr line names the property;
// this adds which configuration keys decide it, so Create fails with the cause and the remedy.

import { DAX_PROPERTY, OUR_QEMU } from '@vfs/contracts';
import { SandboxError } from '../sandbox_error';

export interface QemuStartFailure {
  /** Why QEMU did not come up (controlVm's rejection). */
  readonly err: unknown;
  /** The tail of QEMU's stderr. */
  readonly stderr: string;
  readonly daxWindowMib: number;
  /** hypervisor.path */
  readonly qemuPath: string;
}

/** `err`, made plain when DAX was asked for and QEMU's stderr says it refused the window. */
export function qemuStartError(failure: QemuStartFailure): unknown {
  const { err, stderr, daxWindowMib, qemuPath } = failure;
  const line = daxWindowMib > 0 ? stderr.split('\n').find((l) => l.includes(DAX_PROPERTY)) : undefined;
  if (line === undefined) return err;
  return new SandboxError(
    'bad-config',
    `[daemon] dax_window_mib = ${daxWindowMib} gives the container shares DAX windows, which QEMU ` +
      `(hypervisor.path = ${qemuPath}) refused: ${line.trim()}. Set hypervisor.path to our QEMU ` +
      `(make vmm: ${OUR_QEMU}), or dax_window_mib = 0 to run without DAX`,
    { cause: err },
  );
}
