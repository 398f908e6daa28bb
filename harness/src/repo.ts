// The checkout the tests and tools run from: sources, build/ and node_modules are found from here.
import { repoRoot } from '@vfs/build/repo-root';

export const REPO_ROOT = repoRoot(__dirname);
