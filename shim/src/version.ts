// The shim's version, reported by `-v` and Connect; version.test.ts keeps it equal to package.json.
export const SHIM_VERSION = '0.1.0';
export const SHIM_NAME = 'containerd-shim-vfs-v2';
