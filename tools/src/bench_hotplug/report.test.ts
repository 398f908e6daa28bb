import type { CpuSpent } from '../bench_common/cpu_meter';
import { parseHotplugArgs } from './hotplug_args';
import type { Cycle, OpKey } from './hotplug_cycle';
import { buildHotplugReport, formatHotplugReport } from './report';

function cpu(totalMs: number): CpuSpent {
  return { runtimeMs: totalMs / 2, clientMs: totalMs / 2, totalMs };
}

function cycle(add: number, readAttempts = 1): Cycle {
  const ms: Record<OpKey, number> = { add, first_read: 300, remove: 900, exec_baseline: 200, cli_floor: 150 };
  const spent: Record<OpKey, CpuSpent> = {
    add: cpu(add),
    first_read: cpu(250),
    remove: cpu(500),
    exec_baseline: cpu(180),
    cli_floor: cpu(140),
  };
  return { ms, cpu: spent, readAttempts };
}

describe('buildHotplugReport', () => {
  it('summarizes each step and puts add and the first read against their baselines', () => {
    const report = buildHotplugReport([cycle(600), cycle(750, 2), cycle(650)], 1, 83.27);
    expect(report).toMatchObject({ benchmark: 'volume-hotplug', cycles: 3, warmup: 1, first_read_attempts_max: 2 });
    expect(report.ops_ms.add).toEqual({ min: 600, median: 650, p90: 750, max: 750 });
    expect(report.ratios).toEqual({ add_over_cli_floor: 4.33, first_read_over_exec: 1.5 });
    expect(report.idle_runtime_cpu_ms_per_s).toBe(83.3);
    expect(report.samples[1]?.cpu_ms.add).toEqual({ runtime: 375, client: 375 });
  });

  it('prints p50, p90, min, max and CPU per step', () => {
    const text = formatHotplugReport(buildHotplugReport([cycle(600)], 0, 80));
    expect(text).toMatch(/volume add \(CLI\)\s+600\s+600\s+600\s+600\s+600\s+device_add/);
    expect(text).toMatch(/volume add \/ volume list \(p50s\): 4\.00×/);
  });
});

describe('parseHotplugArgs', () => {
  it('has defaults and rejects bad counts', () => {
    expect(parseHotplugArgs([])).toEqual({ cycles: 20, warmup: 1, jsonPath: undefined });
    expect(parseHotplugArgs(['--cycles', '2', '--warmup', '0'])).toMatchObject({ cycles: 2, warmup: 0 });
    expect(() => parseHotplugArgs(['--cycles', '1.5'])).toThrow(/--cycles must be an integer >= 1/);
  });
});
