// Our QEMU (`make vmm`, vmm/build.sh), for the tests that boot guests on it. `make test` builds it
// before the tests run, so a test that needs it fails when it is missing, saying how to get it.

import { accessSync, constants } from 'node:fs';
import { OUR_QEMU } from '@vfs/contracts';

export { OUR_QEMU };

/** OUR_QEMU's path; throws when it is not there to run. */
export function requireOurQemu(): string {
  try {
    accessSync(OUR_QEMU, constants.X_OK);
  } catch {
    throw new Error(`our QEMU ${OUR_QEMU} is missing: run \`make vmm\` (the DAX tests boot on it)`);
  }
  return OUR_QEMU;
}
