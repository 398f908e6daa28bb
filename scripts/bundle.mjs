// Bundles each program into one file under build/bin, so start-up loads one script.
// koffi stays external: its native .node binaries are resolved from node_modules at run time.
import { build } from 'esbuild';
import { existsSync, chmodSync, mkdirSync } from 'node:fs';

const programs = [
  { entry: 'daemon/src/main.ts', out: 'build/bin/vfs-virtiofsd' },
  { entry: 'daemon/bench/bench_daemon.ts', out: 'build/bin/bench-daemon' },
  { entry: 'shim/src/main.ts', out: 'build/bin/containerd-shim-vfs-v2' },
];

mkdirSync('build/bin', { recursive: true });
for (const { entry, out } of programs) {
  if (!existsSync(entry)) continue;
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    external: ['koffi'],
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
  });
  chmodSync(out, 0o755);
}
