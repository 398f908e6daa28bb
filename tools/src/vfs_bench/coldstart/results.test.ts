import { DETAILS, PHASES } from '../../bench_coldstart/phases';
import { cdfPoints, cdfSpec, phaseBars, phasesSpec, renderSvg, svgToPng } from './charts';
import { expandMatrix, applyFlags, defaultMatrix } from './matrix';
import { quantiles } from './quantiles';
import { buildResults, type CellOutcome, CSV_HEADER, resultsCsv, type RunRecord } from './results';
import { cellConfigProblem, cellConfigToml } from './cell_runtime_config';
import { defaultConfig, parseConfig } from '@vfs/runtime-config';
import { planJobs } from './jobs';
import { formatResults } from './report';

const [small, big] = expandMatrix(applyFlags(defaultMatrix(), { memory_mib: '512,1024' }));

function vfs(round: number, ms: number): RunRecord {
  return {
    kind: 'vfs',
    round,
    slot: 0,
    ms,
    phases: { shim_start: 100, daemon_ready: ms - 300, teardown: 200 },
    details: round === 0 ? { create_sandbox: 40, copy_template: 12 } : { create_sandbox: 60 },
  };
}

const outcomes: CellOutcome[] = [
  {
    cell: small!,
    runs: [
      vfs(0, 4000),
      vfs(1, 5000),
      { kind: 'runc', round: 0, slot: 0, ms: 200 },
      { kind: 'runc', round: 1, slot: 0, ms: 250 },
      { kind: 'floor', round: 0, slot: 0, ms: 1600 },
      { kind: 'floor', round: 1, slot: 0, ms: 1800 },
    ],
  },
  { cell: big!, skipped: 'no DAX window', runs: [] },
];

describe('quantiles', () => {
  it('gives nearest-rank min/p50/p90/p99, every figure a measured run', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(quantiles(values)).toEqual({ min: 1, p50: 50, p90: 90, p99: 99 });
    expect(quantiles([7.26])).toEqual({ min: 7.3, p50: 7.3, p90: 7.3, p99: 7.3 });
    expect(quantiles([])).toBeNull();
  });
});

describe('results.json', () => {
  it('follows the contract: cells with name, config, vfs/runc/floor min-p50-p90-p99, phases and steps', () => {
    const results = buildResults(2, outcomes);
    const [ran, skipped] = results.cells;
    expect(ran).toMatchObject({
      name: '512M',
      config: { memory_mib: 512, machine: 'q35' },
      skipped: null,
      vfs_ms: { min: 4000, p50: 4000, p90: 5000, p99: 5000 },
      runc_ms: { min: 200, p50: 200, p90: 250, p99: 250 },
      floor_ms: { min: 1600, p50: 1600, p90: 1800, p99: 1800 },
      phases_ms: { shim_start: 100, daemon_ready: 3700, teardown: 200 },
      // A step only some runs took has the median of those.
      details_ms: { create_sandbox: 40, copy_template: 12 },
      ratio_vfs_runc: 20,
      ratio_vfs_floor: 2.5,
    });
    expect(skipped).toMatchObject({
      name: '1024M',
      skipped: 'no DAX window',
      vfs_ms: null,
      runc_ms: null,
      phases_ms: {},
      details_ms: {},
    });
    // What other tools read survives a JSON round trip unchanged.
    expect(JSON.parse(JSON.stringify(results))).toEqual(results);
    expect(formatResults(results)).toMatch(/512M\s+4000\s+4000\s+5000\s+5000\s+200\s+1600\s+20\.00×\s+2\.50×/);
    expect(formatResults(results)).toContain('skipped:\n  1024M: no DAX window');
    // Only the steps some cell took get a row.
    expect(formatResults(results)).toMatch(/CreateSandbox \(a booted VM's share mounts\)\s+40\n/);
    expect(formatResults(results)).not.toContain('CreateContainer');
  });
});

describe('details_ms', () => {
  it('is the median of each step over the vfs runs that took it, and none without them', () => {
    const run = (round: number, createSandbox: number): RunRecord => ({
      kind: 'vfs',
      round,
      slot: 0,
      ms: 1000,
      details: { create_sandbox: createSandbox },
    });
    const [cell] = buildResults(3, [{ cell: small!, runs: [run(0, 60), run(1, 40), run(2, 50)] }]).cells;
    expect(cell?.details_ms).toEqual({ create_sandbox: 50 });
    const [bare] = buildResults(1, [{ cell: small!, runs: [{ kind: 'vfs', round: 0, slot: 0, ms: 1000 }] }]).cells;
    expect(bare?.details_ms).toEqual({});
    expect(
      formatResults(buildResults(1, [{ cell: small!, runs: [{ kind: 'vfs', round: 0, slot: 0, ms: 1000 }] }])),
    ).not.toContain('inside the phases');
  });
});

describe('results.csv', () => {
  it('has a row per run with the cell config and the phases, quoting as RFC 4180 says', () => {
    const quoted: CellOutcome = {
      cell: { ...small!, name: 'a "b", c' },
      runs: [{ kind: 'runc', round: 0, slot: 1, ms: 12.34 }],
    };
    const lines = resultsCsv([...outcomes, quoted])
      .trimEnd()
      .split('\n');
    expect(lines[0]).toBe(CSV_HEADER.join(','));
    // The rows below fill the phases, then the steps, in this order.
    expect(CSV_HEADER.slice(-(PHASES.length + DETAILS.length))).toEqual(
      [...PHASES, ...DETAILS].map((p) => `${p.key}_ms`),
    );
    expect(CSV_HEADER).toEqual(
      expect.arrayContaining(['cell', 'machine', 'concurrency', 'kind', 'ms', 'teardown_ms', 'create_sandbox_ms']),
    );
    expect(lines).toHaveLength(1 + 6 + 1);
    expect(lines[1]).toBe(
      `512M,q35,512,1,auto,false,pmem,false,false,busybox,1,vfs,0,0,4000,100,3700,,,,,,200,,,,12,,,,,,40,,`,
    );
    expect(lines[7]).toBe(
      `"a ""b"", c",q35,512,1,auto,false,pmem,false,false,busybox,1,runc,0,1,12.3,,,,,,,,,,,,,,,,,,,,`,
    );
    expect(lines[1]?.split(',')).toHaveLength(CSV_HEADER.length);
  });
});

describe('the charts', () => {
  const results = buildResults(2, outcomes).cells.filter((c) => c.skipped === null);

  it('plot a CDF point per run and a bar segment per phase in order', () => {
    expect(cdfPoints(results)).toEqual([
      { cell: '512M', ms: 4000, fraction: 0.5 },
      { cell: '512M', ms: 5000, fraction: 1 },
    ]);
    expect(phaseBars(results).map((b) => b.phase)).toEqual(
      PHASES.filter((p) => ['shim_start', 'daemon_ready', 'teardown'].includes(p.key)).map((p) => p.label),
    );
  });

  it('render to SVG with Vega and to PNG with resvg', async () => {
    for (const spec of [cdfSpec(results), phasesSpec(results)]) {
      const svg = await renderSvg(spec);
      expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      expect(svg).toContain('512M');
      expect(svg.trimEnd()).toMatch(/<\/svg>$/);
      const png = svgToPng(svg);
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    }
  });
});

describe('a cell reaching the shim', () => {
  it("is a configuration.toml the runtime loads, with the cell's machine, memory, vCPUs, cache and DAX", () => {
    const cell = { ...small!.config, machine: 'q35' as const, vcpus: 2, cache: 'none' as const, dax: true };
    const loaded = parseConfig(cellConfigToml(defaultConfig(), cell), 'cell.toml');
    expect(loaded.hypervisor).toMatchObject({ machine: 'q35', memory_mib: 512, vcpus: 2 });
    expect(loaded.daemon).toMatchObject({ cache: 'none', dax_window_mib: 256 });
    expect(loaded.agent).toEqual({ ...defaultConfig().agent, runtime: 'pmem' });
  });

  it("carries the cell's guest runtime", () => {
    const cell = { ...small!.config, machine: 'q35' as const, runtime: 'pmem' as const };
    expect(parseConfig(cellConfigToml(defaultConfig(), cell), 'cell.toml').agent.runtime).toBe('pmem');
  });

  it('is refused, naming the key and the reason, when the runtime rules the combination out', () => {
    const pmemOnMicrovm = { ...small!.config, machine: 'microvm' as const, runtime: 'pmem' as const };
    expect(cellConfigProblem(defaultConfig(), pmemOnMicrovm)).toMatch(
      /agent\.runtime.*needs \[hypervisor\] machine = "q35"/,
    );
    const shareOnMicrovm = { ...pmemOnMicrovm, runtime: 'share' as const };
    expect(cellConfigProblem(defaultConfig(), shareOnMicrovm)).toBeUndefined();
  });
});

describe('planJobs', () => {
  it('gives each cell its vfs job and shares runc and floor runs between cells that agree on them', () => {
    const cells = expandMatrix(applyFlags(defaultMatrix(), { cache: 'auto,none', vcpus: '1,2' }));
    const jobs = planJobs(cells, [0, 1, 2, 3]);
    expect(jobs.map((j) => [j.key, j.cells])).toEqual([
      ['vfs #0', [0]],
      ['vfs #1', [1]],
      ['vfs #2', [2]],
      ['vfs #3', [3]],
      ['runc busybox K=1', [0, 1, 2, 3]],
      ['floor q35 512M 1cpu K=1', [0, 1]],
      ['floor q35 512M 2cpu K=1', [2, 3]],
    ]);
    expect(planJobs(cells, [3]).map((j) => j.key)).toEqual(['vfs #3', 'runc busybox K=1', 'floor q35 512M 2cpu K=1']);
  });
});
