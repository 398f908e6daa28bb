// The daemon's native helpers (daemon/native: vfs_lookup_batch, vfs_dirents_encode,
// vfs_direntplus_encode), one library that `make build` compiles into build/lib. It is loaded
// when this module is, at start, before the sandbox hides the host's files. Workers (the tests'
// device threads, bundled elsewhere) load it again by the path the environment hands them, which
// the dynamic loader answers from the copy already mapped. A daemon without it refuses to start:
// the data path has no second, slower implementation to fall back to.
import { join } from 'node:path';
import { repoRoot } from '@vfs/build/repo-root';
import koffi from 'koffi';

/** The library's path, for Workers (whose bundles may live outside the repository) and other layouts. */
const LIBRARY_ENV = 'VFS_DAEMON_NATIVE_LIBRARY';
export const DAEMON_NATIVE_LIBRARY =
  process.env[LIBRARY_ENV] ?? join(repoRoot(__dirname), 'build', 'lib', 'libvfs_daemon_native.so');
process.env[LIBRARY_ENV] = DAEMON_NATIVE_LIBRARY;

function loadLibrary(): ReturnType<typeof koffi.load> {
  try {
    return koffi.load(DAEMON_NATIVE_LIBRARY);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`vfs-virtiofsd needs ${DAEMON_NATIVE_LIBRARY} (\`make build\` compiles it): ${why}`);
  }
}

export const daemonNative = loadLibrary();
