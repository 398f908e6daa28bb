// The host directory every back end shares, on tmpfs so the host's disk is out of the numbers: the
// git-status-like tree the workload walks (made once: the workload only reads it), and between
// boots the removal of everything else the previous run left.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const TREE = 'tree';
const FILES_PER_DIR = 20;
const DIRS_PER_PARENT = 10;

/** `files` small files as tree/pN/dM/fK.c: 20 files a directory, 10 directories a parent. */
export function makeTree(share: string, files: number): void {
  const content = Buffer.alloc(200, 'c');
  for (let i = 0; i < files; i++) {
    const dir = Math.floor(i / FILES_PER_DIR);
    const path = join(share, TREE, `p${Math.floor(dir / DIRS_PER_PARENT)}`, `d${dir % DIRS_PER_PARENT}`);
    if (i % FILES_PER_DIR === 0) mkdirSync(path, { recursive: true });
    writeFileSync(join(path, `f${i % FILES_PER_DIR}.c`), content);
  }
}

/** Removes everything in `share` but the tree. */
export function resetShare(share: string): void {
  for (const name of readdirSync(share)) if (name !== TREE) rmSync(join(share, name), { recursive: true, force: true });
}
