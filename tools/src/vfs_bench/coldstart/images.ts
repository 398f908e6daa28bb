// The images a cell may start, built offline: busybox running `true` (the start alone), and a
// Node function: the host's node binary with the libraries it links, running a small handler that
// loads a few core modules and answers one request-shaped object, so the image's runtime has to
// be paged in and started in the sandbox.

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildBusyboxImage, buildImage } from '@vfs/harness/oci_image';
import type { ImageName } from './matrix';

export interface BenchImage {
  readonly ref: string;
  /** The container's command: run to completion, timed. */
  readonly command: readonly string[];
  /** A command that stays up doing nothing (--density). */
  readonly idle: readonly string[];
  /** Writes the image tarball into `dir`; returns its path. */
  build(dir: string): string;
}

const FUNCTION = `'use strict';
const { createHash } = require('node:crypto');
const { URL } = require('node:url');
const request = { url: new URL('http://fn.local/hello?name=vfs'), body: 'x'.repeat(1024) };
const reply = { hello: request.url.searchParams.get('name'), sha256: createHash('sha256').update(request.body).digest('hex') };
process.stdout.write(JSON.stringify(reply) + '\\n');
`;

/** Absolute paths of the shared libraries `binary` loads, from ldd (the loader included). */
export function linkedLibraries(lddOutput: string): string[] {
  const paths = new Set<string>();
  for (const line of lddOutput.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1] !== undefined) paths.add(match[1]);
  }
  return [...paths];
}

function copyInto(rootfs: string, path: string): void {
  const target = join(rootfs, path);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(path, target);
}

function fillNodeRootfs(rootfs: string): void {
  const node = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
  for (const dir of ['etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(rootfs, dir), { recursive: true });
  mkdirSync(join(rootfs, 'usr', 'bin'), { recursive: true });
  copyFileSync(node, join(rootfs, 'usr', 'bin', 'node'));
  chmodSync(join(rootfs, 'usr', 'bin', 'node'), 0o755);
  for (const lib of linkedLibraries(execFileSync('ldd', [node], { encoding: 'utf8' }))) copyInto(rootfs, lib);
  writeFileSync(join(rootfs, 'fn.js'), FUNCTION);
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\n');
}

export const BENCH_IMAGES: Readonly<Record<ImageName, BenchImage>> = {
  busybox: {
    ref: 'docker.io/library/busybox:vfs-bench',
    command: ['true'],
    idle: ['sleep', '1000000'],
    build: (dir) => buildBusyboxImage(dir, 'docker.io/library/busybox:vfs-bench'),
  },
  node: {
    ref: 'docker.io/library/node-function:vfs-bench',
    command: ['/usr/bin/node', '/fn.js'],
    idle: ['/usr/bin/node', '-e', 'setInterval(() => {}, 1 << 30)'],
    build: (dir) =>
      buildImage(join(dir, 'node-function.oci.tar'), 'docker.io/library/node-function:vfs-bench', fillNodeRootfs, {
        Env: ['PATH=/usr/bin:/bin'],
        Cmd: ['/usr/bin/node', '/fn.js'],
        WorkingDir: '/',
      }),
  },
};
