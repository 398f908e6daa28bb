// A VM's device state to a file and back, over QMP: what a VM template is made of (the template's
// RAM stays in its own file, template/). QEMU 7.2 migrates to a command (`exec:`), not to a
// file, so the path goes through QEMU's /bin/sh: only plain path characters are accepted.
// `x-ignore-shared` leaves out every RAM block mapped from a shared file (guest RAM on tmpfs, the
// runtime's pmem image), whose contents are already where the other side maps them.

import { setTimeout as sleep } from 'node:timers/promises';
import { SHELL_PLAIN_PATH } from '@vfs/contracts';
import type { QmpClient } from './qmp';

const POLL_MS = 5;

function commandPath(path: string): string {
  if (!SHELL_PLAIN_PATH.test(path)) {
    throw new Error(`VM state file ${JSON.stringify(path)}: only absolute paths of [A-Za-z0-9/._+-] are accepted`);
  }
  return path;
}

async function ignoreSharedRam(qmp: QmpClient): Promise<void> {
  await qmp.execute('migrate-set-capabilities', {
    capabilities: [{ capability: 'x-ignore-shared', state: true }],
  });
}

interface MigrationInfo {
  readonly status?: string;
  readonly 'error-desc'?: string;
}

/** Polls query-migrate until the migration completed; throws with QEMU's reason when it failed. */
async function migrationDone(qmp: QmpClient, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await qmp.execute<MigrationInfo>('query-migrate');
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new Error(`${what}: migration ${info.status}: ${info['error-desc'] ?? 'QEMU gave no reason'}`);
    }
    if (Date.now() > deadline) throw new Error(`${what}: not done within ${timeoutMs} ms (status ${info.status})`);
    await sleep(POLL_MS);
  }
}

/** Pauses the VM and writes its device state to `statePath`; the VM stays paused. */
export async function saveVmState(qmp: QmpClient, statePath: string, timeoutMs: number): Promise<void> {
  const path = commandPath(statePath);
  await qmp.execute('stop');
  await ignoreSharedRam(qmp);
  await qmp.execute('migrate', { uri: `exec:cat > ${path}` });
  await migrationDone(qmp, `save the VM state to ${path}`, timeoutMs);
}

/**
 * Loads the device state into a QEMU started with `-incoming defer` and the saved RAM, then runs
 * it. A state QEMU cannot load makes it exit (its stderr says why).
 */
export async function loadVmState(qmp: QmpClient, statePath: string, timeoutMs: number): Promise<void> {
  const path = commandPath(statePath);
  await ignoreSharedRam(qmp);
  await qmp.execute('migrate-incoming', { uri: `exec:cat ${path}` });
  await migrationDone(qmp, `load the VM state from ${path}`, timeoutMs);
  await qmp.execute('cont');
}
