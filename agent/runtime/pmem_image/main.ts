// `pmem-image EROFS OUT`, run by agent/runtime.mk: writes the runtime's virtio-pmem image (see
// pmem_image.ts) beside OUT and renames it over OUT, read-only, so a running VM keeps the inode it
// mapped and no later build rewrites a file every sandbox shares.

import { chmodSync, renameSync, rmSync } from 'node:fs';
import { writePmemImage } from './pmem_image';

function main(argv: readonly string[]): void {
  const [erofs, out] = argv;
  if (erofs === undefined || out === undefined || argv.length !== 2) {
    throw new Error('usage: pmem-image EROFS_IMAGE OUT');
  }
  const tmp = `${out}.tmp`;
  rmSync(tmp, { force: true });
  writePmemImage(erofs, tmp);
  chmodSync(tmp, 0o444);
  renameSync(tmp, out);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  console.error(`pmem-image: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
