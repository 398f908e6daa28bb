/**
 * The steps that turn the launcher's child into the spec's process, shared by a container's
 * init and its execs: terminal, limits, oom score, cwd, bounding set (while still fully
 * privileged), user, capability sets, no_new_privs, umask, environment, argv, exec.
 */
import type { OciProcess } from '@vfs/contracts';
import { capabilityMasks, hexMask } from './capabilities';
import { step, type PlanStep } from './launch_plan';
import { resolveRlimit } from './rlimits';

const DEFAULT_UMASK = 0o022;
const DEFAULT_CONSOLE = { rows: 24, cols: 80 };

/** Before spawn: a process with a terminal gets one of the spec's size instead of stdio pipes. */
export function terminalSteps(process: OciProcess): PlanStep[] {
  if (process.terminal !== true) return [];
  const size = process.consoleSize;
  const { rows, cols } =
    size === undefined || size.height === 0 ? DEFAULT_CONSOLE : { rows: size.height, cols: size.width };
  return [step('tty', rows, cols)];
}

function credentialSteps(process: OciProcess): PlanStep[] {
  const user = step('user', process.user.uid, process.user.gid, (process.user.additionalGids ?? []).join(','));
  if (process.capabilities === undefined) return [user];
  const masks = capabilityMasks(process.capabilities);
  return [
    step('capbset', hexMask(masks.bounding)),
    user,
    step(
      'caps',
      hexMask(masks.effective),
      hexMask(masks.permitted),
      hexMask(masks.inheritable),
      hexMask(masks.ambient),
    ),
  ];
}

export interface ProcessPlanOptions {
  /** Hold the child at a barrier until "start" (a container's init, between create and start). */
  readonly barrier: boolean;
  /** Create a missing cwd first, as runc does for the init (an exec's cwd must exist). */
  readonly createCwd: boolean;
}

export function processSteps(process: OciProcess, opts: ProcessPlanOptions): PlanStep[] {
  const rlimits = (process.rlimits ?? []).map((r) => {
    const resolved = resolveRlimit(r);
    return step('rlimit', resolved.resource, resolved.soft, resolved.hard);
  });
  const oom =
    process.oomScoreAdj === undefined ? [] : [step('write', '/proc/self/oom_score_adj', String(process.oomScoreAdj))];
  const [program = ''] = process.args;
  return [
    // First: the container's /dev is in place by now (the init's mounts come before these
    // steps), and taking the master from the agent needs the privileges the user step drops.
    ...(process.terminal === true ? [step('console')] : []),
    ...rlimits,
    ...oom,
    ...(opts.createCwd ? [step('mkdirp', process.cwd, '755')] : []),
    ...credentialSteps(process),
    // After the uid change, so the directory's permissions are checked as the process's user.
    step('chdir', process.cwd),
    ...(process.noNewPrivileges === true ? [step('nnp')] : []),
    step('umask', (process.user.umask ?? DEFAULT_UMASK).toString(8)),
    ...(process.env ?? []).map((entry) => step('env', entry)),
    ...process.args.map((arg) => step('arg', arg)),
    ...(opts.barrier ? [step('barrier')] : []),
    step('exec', program),
  ];
}
