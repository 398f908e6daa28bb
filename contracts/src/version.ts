// The vfs release: the root package.json's version (version.test.ts keeps them equal), kept here
// because the bundled programs cannot read package.json at run time. The shim reports it (`-v`,
// Connect) and vfs-runtime (`--version`, `env`).
export const VFS_VERSION = '0.1.0';
