// What a vfs-runtime command reads and writes besides the host itself; tests pass their own.
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** VFS_CONFIG, VFS_ROOT and VFS_RUN_DIR are read from here, as the shim reads containerd's. */
  readonly env: NodeJS.ProcessEnv;
  /** A relative `--source` is taken from here. */
  readonly cwd: string;
}

export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
  };
}
