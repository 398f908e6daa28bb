import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseColdstartArgs } from './coldstart_args';
import { applyFlags, defaultMatrix, expandMatrix, MatrixError, parseExperiment } from './matrix';

describe('the experiment matrix', () => {
  it('is one cell of the configured defaults when nothing is given, named after its machine', () => {
    const cells = expandMatrix(defaultMatrix());
    expect(cells).toEqual([
      {
        name: 'q35',
        config: {
          machine: 'q35',
          memory_mib: 512,
          vcpus: 1,
          cache: 'auto',
          dax: false,
          runtime: 'pmem',
          pool: false,
          template: false,
          image: 'busybox',
          concurrency: 1,
        },
      },
    ]);
  });

  it('varies the guest runtime, names its cells after it, and resolves "auto" per machine', () => {
    const cells = expandMatrix(applyFlags(defaultMatrix(), { machine: 'q35', runtime: 'share,pmem' }));
    expect(cells.map((c) => [c.name, c.config.runtime])).toEqual([
      ['runtime=share', 'share'],
      ['runtime=pmem', 'pmem'],
    ]);
    const auto = expandMatrix(applyFlags(defaultMatrix(), { machine: 'microvm,q35' }));
    expect(auto.map((c) => [c.name, c.config.runtime])).toEqual([
      ['microvm', 'share'],
      ['q35', 'pmem'],
    ]);
    expect(() => applyFlags(defaultMatrix(), { runtime: 'disk' })).toThrow(
      '--runtime: runtime = "disk": expected auto, share, image, pmem',
    );
  });

  it('expands the cartesian product, naming cells by the dimensions that vary', () => {
    const matrix = applyFlags(defaultMatrix(), { machine: 'microvm,q35', concurrency: '1,4', dax: 'off' });
    const cells = expandMatrix(matrix);
    expect(cells.map((c) => c.name)).toEqual(['microvm K=1', 'microvm K=4', 'q35 K=1', 'q35 K=4']);
    expect(cells[3]?.config).toMatchObject({ machine: 'q35', concurrency: 4, dax: false });
  });

  it('reads an experiment file: runs, values or lists, on/off or booleans', () => {
    const file = parseExperiment(
      'runs = 3\n[matrix]\nmemory_mib = [512, 1024]\ncache = "none"\n' + 'dax = [false, "on"]\npool = "off"\n',
      'exp.toml',
    );
    expect(file.runs).toBe(3);
    expect(file.matrix.memory_mib).toEqual([512, 1024]);
    expect(file.matrix.cache).toEqual(['none']);
    expect(file.matrix.dax).toEqual([false, true]);
    expect(file.matrix.pool).toEqual([false]);
    expect(expandMatrix(file.matrix).map((c) => c.name)).toEqual([
      '512M nodax',
      '512M dax',
      '1024M nodax',
      '1024M dax',
    ]);
  });

  it('refuses unknown dimensions, bad values and bad TOML with the file and what was expected', () => {
    expect(() => parseExperiment('[matrix]\ngpu = 1\n', 'e.toml')).toThrow(/e\.toml: unknown dimension gpu/);
    expect(() => parseExperiment('[matrix]\nmachine = "pc"\n', 'e.toml')).toThrow(
      /machine = "pc": expected microvm, microvm-pcie, q35/,
    );
    expect(() => parseExperiment('runs = 0\n', 'e.toml')).toThrow(/runs must be an integer >= 1/);
    expect(() => parseExperiment('[matrix\n', 'e.toml')).toThrow(MatrixError);
    expect(() => applyFlags(defaultMatrix(), { concurrency: '0' })).toThrow(/--concurrency: concurrency = 0/);
    expect(() => applyFlags(defaultMatrix(), { image: 'alpine' })).toThrow(/expected busybox, node/);
  });
});

describe('parseColdstartArgs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-bench-args-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has defaults', () => {
    expect(parseColdstartArgs([])).toMatchObject({ runs: 5, warmup: 1, outDir: 'coldstart-results', density: false });
  });

  it('lets flags override the experiment file, and --runs its runs', () => {
    const file = join(dir, 'exp.toml');
    writeFileSync(file, 'runs = 7\n[matrix]\nmachine = ["microvm", "q35"]\nvcpus = [1, 2]\n');
    const args = parseColdstartArgs(['--config', file, '--vcpus', '4', '--pool', 'on', '--out', 'o']);
    expect(args.runs).toBe(7);
    expect(args.matrix.machine).toEqual(['microvm', 'q35']);
    expect(args.matrix.vcpus).toEqual([4]);
    expect(args.matrix.pool).toEqual([true]);
    expect(args.outDir).toBe('o');
    expect(parseColdstartArgs(['--config', file, '--runs', '2']).runs).toBe(2);
  });

  it('refuses unknown flags and bad counts', () => {
    expect(() => parseColdstartArgs(['--bogus'])).toThrow();
    expect(() => parseColdstartArgs(['--runs', '0'])).toThrow(/--runs must be an integer >= 1/);
  });
});
