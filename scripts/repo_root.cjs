// The repository root, for programs and tests that find build/ and sources by path: the nearest
// directory upwards whose package.json declares the workspaces. No dependencies, so any bundle
// may carry it.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');

function repoRoot(from = __dirname) {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).workspaces !== undefined) return dir;
    if (dirname(dir) === dir) throw new Error(`no vfs repository above ${from}`);
  }
}

module.exports = { repoRoot };
