// Writes a run's files into the output directory: results.json and results.csv, cdf and phases
// as SVG and PNG, and what reproduces the run (env.toml from `vfs-runtime env`, each cell's
// configuration.toml).

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cdfSpec, phasesSpec, renderSvg, svgToPng } from './charts';
import { type CellOutcome, type Results, resultsCsv } from './results';

export async function writeResults(outDir: string, results: Results, outcomes: readonly CellOutcome[]): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, 'results.csv'), resultsCsv(outcomes));
  const ran = results.cells.filter((c) => c.skipped === null);
  for (const [name, spec] of [
    ['cdf', cdfSpec(ran)],
    ['phases', phasesSpec(ran)],
  ] as const) {
    const svg = await renderSvg(spec);
    writeFileSync(join(outDir, `${name}.svg`), svg);
    writeFileSync(join(outDir, `${name}.png`), svgToPng(svg));
  }
}

/** `vfs-runtime env` as TOML into env.toml; its failure is written there too (the run goes on). */
export function saveEnv(outDir: string, vfsRuntime: string): void {
  mkdirSync(outDir, { recursive: true });
  const result = spawnSync(vfsRuntime, ['env'], { encoding: 'utf8', timeout: 60_000 });
  const text =
    result.status === 0
      ? result.stdout
      : `# ${vfsRuntime} env failed (${result.error?.message ?? `exit ${result.status}`}):\n# ${`${result.stderr ?? ''}`.trim().replaceAll('\n', '\n# ')}\n`;
  writeFileSync(join(outDir, 'env.toml'), text);
}

export function saveCellConfigs(outDir: string, paths: readonly string[]): void {
  const dir = join(outDir, 'configs');
  mkdirSync(dir, { recursive: true });
  for (const path of paths) copyFileSync(path, join(dir, basename(path)));
}
