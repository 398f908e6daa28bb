// A private run dir laid out as the shims lay out /run/vfs: a state dir per sandbox with a
// containers/<id> marker per container it serves.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { containerMarker, sandboxPaths } from '@vfs/contracts';

export function addSandbox(runDir: string, namespace: string, sandboxId: string, containers: readonly string[]): void {
  const { stateDir } = sandboxPaths(runDir, namespace, sandboxId);
  mkdirSync(stateDir, { recursive: true });
  for (const id of containers) {
    const marker = containerMarker(stateDir, id);
    mkdirSync(dirname(marker), { recursive: true });
    writeFileSync(marker, '');
  }
}
