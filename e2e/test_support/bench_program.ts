// Running a benchmark program for its smoke test, and what it may leave behind: the program prints
// its temp work dir, its private containerd's dir and its CPU cgroup (stderr), and afterwards none
// of them may exist, nothing may be mounted below them, no process may name the containerd dir
// (shims, QEMU, daemons) and no pod cgroup of that containerd may remain.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { bundleTarget } from '@vfs/build';
import { mountsUnder } from '@vfs/harness/containerd';
import { cgroupDirsUnder } from '@vfs/harness/host_leftovers';
import { REPO_ROOT } from '@vfs/harness/repo';

export interface ProgramRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface BenchDirs {
  readonly work: string;
  readonly containerd: string;
  readonly cgroup: string;
}

/** Bundles the bench target afresh and runs it; never rejects. */
export function runBenchProgram(target: string, args: readonly string[], timeoutMs: number): Promise<ProgramRun> {
  const program = bundleTarget(target);
  return new Promise((resolve) => {
    execFile(process.execPath, [program, ...args], { cwd: REPO_ROOT, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** The dirs the program announced: "work dir W, containerd dir D, CPU cgroup C". */
export function benchDirs(stderr: string): BenchDirs {
  const match = /work dir (\S+), containerd dir (\S+), CPU cgroup (\S+)/.exec(stderr);
  if (match === null) throw new Error(`the benchmark did not say where it works:\n${stderr}`);
  return { work: match[1] as string, containerd: match[2] as string, cgroup: match[3] as string };
}

function processesNaming(path: string): string[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map((pid) => `pid ${pid}`);
}

export function leftovers(dirs: BenchDirs): string[] {
  return [
    ...[dirs.work, dirs.containerd, dirs.cgroup].filter((path) => existsSync(path)),
    ...mountsUnder(dirs.work),
    ...mountsUnder(dirs.containerd),
    ...processesNaming(dirs.containerd),
    // PrivateContainerd.podCgroupRoot, in every hierarchy.
    ...cgroupDirsUnder(`/${basename(dirs.containerd)}`),
  ];
}
