/**
 * The plan vfs-launcher executes (agent/runtime/launcher): a sequence of small steps, each a
 * name and a fixed number of string arguments, encoded as NUL-terminated tokens behind a
 * "<length>\n" header. The agent decides everything (order, flags, masks); the launcher only
 * performs the syscalls, so the policy stays here, in tested TypeScript.
 */

type Arg = string | number;

/** Step name → its arguments, mirroring the table in launcher/main.c. */
export interface PlanSteps {
  /** Clone flags (CLONE_NEW*) of the child. */
  ns: [flags: number];
  /** Cgroup v2 directory the child is created in (CLONE_INTO_CGROUP). */
  cgroup: [path: string];
  /**
   * The device rules' program on that cgroup (device_rules.ts encodes them; launcher/devices.c),
   * shared by launches with the same rules through pins in `cacheDir` (a bpffs; "" for none).
   */
  devices: [rules: string, cacheDir: string];
  /** setns into every namespace of a running process (exec). */
  join: [pid: number, flags: number];
  /** setns into these namespaces of a running process, without entering its root (a pod's shared ones). */
  setns: [pid: number, flags: number];
  /** The child gets a terminal of this size (attached at `console`) instead of stdio pipes. */
  tty: [rows: number, cols: number];
  /** In the child, inside the container's mounts: takes the pty master the agent opened there. */
  console: [];
  /** clone3: the steps after it run in the child. */
  spawn: [];
  /** The child waits here until the agent sends "start" (create/start split). */
  barrier: [];
  unshare: [flags: number];
  mount: [source: string, target: string, fstype: string, flags: number, data: string];
  /** umount2 (MNT_DETACH = 2 for a lazy detach). */
  umount: [target: string, flags: number];
  mkdirp: [path: string, mode: string];
  bindopen: [source: string, recursive: '0' | '1'];
  bindmove: [index: number, target: string];
  mknod: [path: string, mode: string, major: number, minor: number, uid: number, gid: number];
  symlink: [target: string, path: string];
  mask: [path: string];
  readonly: [path: string];
  write: [path: string, value: string];
  pivot: [stage: string, root: string];
  chdir: [path: string];
  hostname: [name: string];
  /** The wall clock to the host's (Unix ms): a VM resumed from a template has the template's. */
  settime: [unixMs: number];
  /** Host bytes (lowercase hex) mixed into the kernel's entropy pool, then a forced reseed. */
  reseed: [hex: string];
  rlimit: [resource: number, soft: string, hard: string];
  capbset: [bounding: string];
  user: [uid: number, gid: number, groups: string];
  caps: [effective: string, permitted: string, inheritable: string, ambient: string];
  nnp: [];
  umask: [mode: string];
  env: [entry: string];
  arg: [value: string];
  exec: [path: string];
  winsize: [fd: number, rows: number, cols: number];
}

export type StepName = keyof PlanSteps;

/**
 * The step table as data: each step's argument count, held to PlanSteps by the type checker and
 * to launcher/main.c's `steps` table by launcher_step_table.test.ts.
 */
export const PLAN_STEP_ARITY = {
  ns: 1,
  cgroup: 1,
  devices: 2,
  join: 2,
  setns: 2,
  tty: 2,
  spawn: 0,
  barrier: 0,
  unshare: 1,
  mount: 5,
  mkdirp: 2,
  bindopen: 2,
  bindmove: 2,
  mknod: 6,
  symlink: 2,
  mask: 1,
  readonly: 1,
  write: 2,
  pivot: 2,
  chdir: 1,
  hostname: 1,
  settime: 1,
  reseed: 1,
  rlimit: 3,
  capbset: 1,
  user: 3,
  caps: 4,
  nnp: 0,
  umask: 1,
  env: 1,
  arg: 1,
  exec: 1,
  winsize: 3,
  umount: 2,
  console: 0,
} as const satisfies { readonly [K in StepName]: PlanSteps[K]['length'] };

export type PlanStep = { [K in StepName]: readonly [K, ...PlanSteps[K]] }[StepName];

export function step<K extends StepName>(name: K, ...args: PlanSteps[K]): PlanStep {
  return [name, ...args] as unknown as PlanStep;
}

function token(arg: Arg): string {
  const text = String(arg);
  if (text.includes('\0')) throw new Error(`plan argument contains a NUL byte: ${JSON.stringify(text)}`);
  return text;
}

export function encodePlan(steps: readonly PlanStep[]): Buffer {
  const body = Buffer.from(steps.flatMap((s) => s.map((arg) => `${token(arg)}\0`)).join(''));
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}
