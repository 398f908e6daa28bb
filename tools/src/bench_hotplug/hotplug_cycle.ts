// One measured cycle on the running container, each step a separate call with the host CPU it
// cost: `vfs-runtime volume list` (the CLI's floor: a Node start and one round trip to the shim;
// it also checks the last cycle's volume is gone), `volume add` of a fresh host dir (returns once
// the device is plugged, mounted in the guest and bound into the container), the first successful
// `ctr task exec … cat` of its file, `ctr task exec … true` (what any exec costs), `volume remove`.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { VolumeInfo } from '@vfs/contracts';
import { type CpuMeter, type CpuSpent, cpuSpent } from '../bench_common/cpu_meter';
import type { CtrResult } from '@vfs/harness/containerd';
import { type Container, callOutput, execIn, vfsRuntime } from './volume_cli';

export const HOTPLUG_OPS = [
  { key: 'add', label: 'volume add (CLI)', what: 'device_add → mounted in the guest → in the container' },
  { key: 'first_read', label: 'first read after add', what: 'add returned → `ctr task exec … cat` read the file' },
  { key: 'remove', label: 'volume remove (CLI)', what: 'out of the container and the guest, device_del' },
  { key: 'exec_baseline', label: 'ctr task exec … true', what: 'baseline: any exec into the container' },
  { key: 'cli_floor', label: 'volume list (CLI)', what: 'baseline: Node start + one management call' },
] as const;

export type OpKey = (typeof HOTPLUG_OPS)[number]['key'];

export interface Cycle {
  readonly ms: Readonly<Record<OpKey, number>>;
  readonly cpu: Readonly<Record<OpKey, CpuSpent>>;
  /** `cat` calls until the file was read (1: at once). */
  readonly readAttempts: number;
}

export interface HotplugBench {
  readonly container: Container;
  readonly meter: CpuMeter;
  /** Each cycle's source dir goes here. */
  readonly sourceRoot: string;
  /** Where the volume appears in the container. */
  readonly target: string;
}

/** Where to look when add fails: the feature this benchmark measures. */
const HOTPLUG_PATH = 'the volume hotplug path: shim/src/vm_runtime/volume_hotplug.ts, tested by e2e/volumes.test.ts';
const FIRST_READ_TIMEOUT_MS = 30_000;
const READ_RETRY_MS = 20;

interface Measured<T> {
  readonly value: T;
  readonly ms: number;
  readonly cpu: CpuSpent;
}

async function measured<T>(meter: CpuMeter, run: () => Promise<T>): Promise<Measured<T>> {
  const cpu0 = meter.sample();
  const started = performance.now();
  const value = await run();
  const ms = performance.now() - started;
  return { value, ms, cpu: cpuSpent(cpu0, meter.sample()) };
}

function succeeded(call: CtrResult, what: string): CtrResult {
  if (call.code !== 0) throw new Error(`${what} failed (${callOutput(call)})`);
  return call;
}

function volumesOf(list: CtrResult): VolumeInfo[] {
  try {
    return JSON.parse(list.stdout) as VolumeInfo[];
  } catch {
    throw new Error(`vfs-runtime volume list --json printed no JSON: ${list.stdout.slice(0, 200)}`);
  }
}

async function firstRead(bench: HotplugBench, cycle: number, path: string, expected: string): Promise<number> {
  const deadline = performance.now() + FIRST_READ_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    const read = await execIn(bench.container, `read-${cycle}-${attempt}`, ['cat', path]);
    if (read.code === 0 && read.stdout === expected) return attempt;
    if (performance.now() > deadline) {
      throw new Error(
        `the container did not read ${JSON.stringify(expected)} from ${path} within ${FIRST_READ_TIMEOUT_MS} ms of volume add (last try: ${callOutput(read)})`,
      );
    }
    await sleep(READ_RETRY_MS);
  }
}

export async function runCycle(bench: HotplugBench, cycle: number): Promise<Cycle> {
  const { container, meter, target } = bench;
  const ids = ['--namespace', container.namespace, '--id', container.id];
  const source = join(bench.sourceRoot, `cycle-${cycle}`);
  mkdirSync(source, { recursive: true });
  const expected = `cycle ${cycle}\n`;
  writeFileSync(join(source, 'hello'), expected);

  const list = await measured(meter, () => vfsRuntime(container, ['volume', 'list', ...ids, '--json']));
  succeeded(list.value, 'vfs-runtime volume list');
  if (volumesOf(list.value).some((v) => v.target === target))
    throw new Error(`cycle ${cycle}: the volume at ${target} is still listed after volume remove`);

  const add = await measured(meter, () =>
    vfsRuntime(container, ['volume', 'add', ...ids, '--source', source, '--target', target]),
  );
  succeeded(
    add.value,
    `cycle ${cycle}: vfs-runtime volume add --source ${source} --target ${target} (${HOTPLUG_PATH})`,
  );

  const read = await measured(meter, () => firstRead(bench, cycle, join(target, 'hello'), expected));
  const exec = await measured(meter, () => execIn(container, `true-${cycle}`, ['true']));
  succeeded(exec.value, 'ctr task exec … true');

  const remove = await measured(meter, () => vfsRuntime(container, ['volume', 'remove', ...ids, '--target', target]));
  succeeded(remove.value, `cycle ${cycle}: vfs-runtime volume remove --target ${target} (${HOTPLUG_PATH})`);

  return {
    ms: { add: add.ms, first_read: read.ms, remove: remove.ms, exec_baseline: exec.ms, cli_floor: list.ms },
    cpu: { add: add.cpu, first_read: read.cpu, remove: remove.cpu, exec_baseline: exec.cpu, cli_floor: list.cpu },
    readAttempts: read.value,
  };
}
