// Bundles each program into one file under build/bin, so start-up loads one script.
// koffi stays external: its native .node binaries are resolved from node_modules at run time.
// Source maps go to <program>.map beside the program, not inline: Node reads a map only under
// --enable-source-maps, but it reads and scans an inline one at every start (the shim's 4 MB map
// cost ≈45 ms per start, twice per sandbox; the daemon's ≈30 ms). NODE_OPTIONS=--enable-source-maps
// still maps stack traces.
import { build } from 'esbuild';
import { existsSync, chmodSync, mkdirSync } from 'node:fs';

const programs = [
  { entry: 'daemon/src/main.ts', out: 'build/bin/vfs-virtiofsd' },
  { entry: 'daemon/bench/bench_daemon.ts', out: 'build/bin/bench-daemon' },
  { entry: 'shim/src/main.ts', out: 'build/bin/containerd-shim-vfs-v2' },
  { entry: 'e2e/bench/bench_coldstart.ts', out: 'build/bin/bench-coldstart' },
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
    sourcemap: 'linked',
    external: ['koffi'],
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
  });
  chmodSync(out, 0o755);
}
