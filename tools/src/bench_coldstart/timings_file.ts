// Reads the phase timestamps the shim saved for one sandbox (shim/src/vm_runtime/phase_clock.ts)
// from the benchmark's VFS_TIMINGS_DIR. The shim writes them once the container's exit is
// relayed, concurrently with the rest of `ctr run --rm`, so the file may trail ctr's exit a little.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GuestBootTimes } from '@vfs/shim/vm';
import { HOST_PHASES, type SandboxTimings } from '@vfs/shim/vm';

const WAIT_MS = 5000;
const GUEST_TIMES: readonly (keyof GuestBootTimes)[] = ['initStartS', 'agentLaunchS', 'agentStartedS', 'agentReadyS'];

function record(value: unknown, what: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null) throw new Error(`timings file: ${what} is not an object`);
  return value as Record<string, unknown>;
}

function numbers<K extends string>(
  raw: Readonly<Record<string, unknown>>,
  keys: readonly K[],
): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const key of keys) {
    const value = raw[key];
    if (typeof value === 'number' && Number.isFinite(value)) out[key] = value;
  }
  return out;
}

export function parseTimings(text: string): SandboxTimings {
  const raw = record(JSON.parse(text), 'the document');
  return {
    sandboxId: String(raw.sandboxId),
    host: numbers(record(raw.host, 'host'), HOST_PHASES),
    guest: numbers(record(raw.guest, 'guest'), GUEST_TIMES),
  };
}

export async function readTimings(dir: string, sandboxId: string): Promise<SandboxTimings> {
  const path = join(dir, `${encodeURIComponent(sandboxId)}.json`);
  const deadline = Date.now() + WAIT_MS;
  while (!existsSync(path)) {
    if (Date.now() > deadline)
      throw new Error(`the shim wrote no timings to ${path} (is VFS_TIMINGS_DIR reaching it?)`);
    await sleep(20);
  }
  return parseTimings(readFileSync(path, 'utf8'));
}
