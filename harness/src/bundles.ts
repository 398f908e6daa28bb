// The programs tests run, built by the one bundler (@vfs/build) so that e2e tests run what ships:
// the product shim, the test shim (the frame around the host-process test double), Worker
// scripts and stand-ins.
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { bundleSync, bundleTarget, TARGETS } from '@vfs/build';
import { REPO_ROOT } from './repo';

function targetPath(name: string): string {
  const target = TARGETS[name];
  if (target === undefined) throw new Error(`no bundle target '${name}'`);
  return join(REPO_ROOT, target.out);
}

/** Put first on containerd's PATH, it makes runtime io.containerd.vfs.v2 the test shim. */
export const TEST_SHIM_DIR = dirname(targetPath('test-shim'));

export function bundleShim(): void {
  bundleTarget('shim');
}

/** vfs-runtime, the CLI; returns its path. */
export function bundleCli(): string {
  return bundleTarget('vfs-runtime');
}

/** The frame with the host-process test double in place of VMs; returns the directory to put on PATH. */
export function bundleTestShim(): string {
  bundleTarget('test-shim');
  return TEST_SHIM_DIR;
}

// Inside node_modules so a bundle resolves koffi and pino (kept external) from the repository;
// scripts/jest-global-teardown.cjs removes what a run left (the name's pid tells whose it is).
const WORKER_CACHE = join(REPO_ROOT, 'node_modules/.cache/vfs-test-workers');
let bundleCount = 0;

/** Bundles `entry` (a .ts Worker script or program) into a new CommonJS file; returns its path. */
export function bundleWorker(entry: string): string {
  mkdirSync(WORKER_CACHE, { recursive: true });
  const outfile = join(WORKER_CACHE, `${basename(entry, '.ts')}-${process.pid}-${bundleCount++}.js`);
  return bundleSync(entry, outfile, { external: ['pino'] });
}

/** The daemon program, bundled where it resolves koffi; returns its path. */
export function bundleDaemonForTest(): string {
  return bundleWorker(join(REPO_ROOT, TARGETS['daemon']?.entry ?? 'daemon/src/main.ts'));
}

/** The stand-in guest agent (stub_guest_agent.ts), as a runtime share's agent.js. */
export function bundleStubAgent(outfile: string): string {
  return bundleSync(join(__dirname, 'stub_guest_agent.ts'), outfile);
}

/** The C helper the guest tests compile statically and run in the guest. */
export const FSTOOL_SOURCE = join(__dirname, 'fstool.c');
