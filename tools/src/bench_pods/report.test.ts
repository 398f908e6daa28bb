import type { CpuSpent } from '../bench_common/cpu_meter';
import type { PodPhase, PodRun } from './pod_run';
import { parsePodsArgs } from './pods_args';
import { buildPodsReport, formatPodsReport } from './report';

function cpu(totalMs: number): CpuSpent {
  return { runtimeMs: totalMs - 1, clientMs: 1, totalMs };
}

function run(scale: number): PodRun {
  const phases: Record<PodPhase, number> = {
    run_pod_sandbox: 100 * scale,
    create_container: 10,
    start_container: 50 * scale,
    running_seen: 2,
    start_total: 162 * scale,
    stop_pod_sandbox: 80 * scale,
    remove_pod_sandbox: 10,
    teardown_total: 90 * scale,
    shim_exit: 3,
  };
  return { phases, cpu: { start: cpu(150 * scale), teardown: cpu(60 * scale) } };
}

describe('buildPodsReport', () => {
  it('summarizes each handler and gives vfs/runc of the medians, start and teardown CPU included', () => {
    const report = buildPodsReport({ runc: [run(1), run(1.2)], vfs: [run(20), run(22)] }, 1);
    expect(report).toMatchObject({ benchmark: 'pod-start', runs: 2, warmup: 1 });
    expect(report.handlers.runc.phases_ms.start_total).toEqual({ min: 162, median: 162, p90: 194.4, max: 194.4 });
    expect(report.ratio_vfs_runc.start_total).toBe(20);
    expect(report.ratio_vfs_runc.create_container).toBe(1);
    expect(report.ratio_vfs_runc.cpu_start).toBe(20);
    expect(report.samples.vfs[0]?.cpu_ms.start).toEqual({ runtime: 2999, client: 1 });
  });

  it('prints a row per phase with both handlers and the ratio', () => {
    const text = formatPodsReport(buildPodsReport({ runc: [run(1)], vfs: [run(20)] }, 0));
    expect(text).toMatch(/RunPodSandbox\s+100 \(100, 100\)\s+2000 \(2000, 2000\)\s+20\.00×/);
    expect(text).toMatch(/pod start\s+150 \(150, 150\)\s+3000 \(3000, 3000\)\s+20\.00×/);
  });
});

describe('parsePodsArgs', () => {
  it('has defaults and rejects bad counts', () => {
    expect(parsePodsArgs([])).toEqual({ runs: 5, warmup: 1, jsonPath: undefined });
    expect(parsePodsArgs(['--runs', '2', '--warmup', '0', '--json', 'o.json'])).toEqual({
      runs: 2,
      warmup: 0,
      jsonPath: 'o.json',
    });
    expect(() => parsePodsArgs(['--runs', '0'])).toThrow(/--runs must be an integer >= 1/);
  });
});
