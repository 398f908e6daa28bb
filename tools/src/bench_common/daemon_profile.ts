// Running our daemon under node --cpu-prof for bench-daemon and bench-guest. Node writes the
// profile on a clean exit, with system calls the daemon's seccomp filter kills, into a directory
// its namespace sandbox hides; and under that sandbox unshare, the daemon's parent, SIGKILLs it
// when signalled. A profiled daemon runs with neither.

export interface DaemonProfile {
  /** Node's flags, before the daemon's script. */
  readonly nodeFlags: readonly string[];
  /** The daemon's own flags, after its other arguments. */
  readonly daemonArgs: readonly string[];
}

export function daemonProfile(dir: string): DaemonProfile {
  return {
    nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    daemonArgs: ['--sandbox=none', '--seccomp=none'],
  };
}
