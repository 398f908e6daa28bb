/**
 * Plans of a container's init and of an exec into it, assembled from the per-concern builders.
 * Order of the init's set-up (after clone3 into new namespaces and the container's cgroup):
 * cgroup namespace → private mount tree → rootfs on the stage → bind sources opened →
 * pivot_root → mounts → device nodes → sysctls → read-only and masked paths → read-only root →
 * hostname → the process steps (limits, user, capabilities, barrier, exec).
 */
import { GUEST_DEVICE_PROGRAMS_DIR, type OciProcess } from '@vfs/contracts';
import type { ContainerSpec } from '../oci/container_spec';
import { deviceRules, encodeDeviceRules } from './device_rules';
import { deviceSteps } from './devices';
import { step, type PlanStep } from './launch_plan';
import { devIsTmpfs, mountSteps, withDefaultMounts } from './mounts';
import type { NamespacePlan } from './namespaces';
import { processSteps, terminalSteps } from './process_plan';
import { pivotStep, readonlyRootStep, rootfsSteps, type RootfsSpec } from './rootfs';

export interface ProcessPlan {
  readonly parentSteps: PlanStep[];
  readonly childSteps: PlanStep[];
  /** A terminal instead of stdio pipes. */
  readonly terminal: boolean;
}

function pathSteps(spec: ContainerSpec): PlanStep[] {
  const linux = spec.linux;
  return [
    ...Object.entries(linux?.sysctl ?? {}).map(([key, value]) =>
      step('write', `/proc/sys/${key.replaceAll('.', '/')}`, value),
    ),
    ...(linux?.readonlyPaths ?? []).map((path) => step('readonly', path)),
    ...(linux?.maskedPaths ?? []).map((path) => step('mask', path)),
  ];
}

export function initPlan(spec: ContainerSpec, rootfs: RootfsSpec, ns: NamespacePlan, cgroupPath: string): ProcessPlan {
  const mounts = withDefaultMounts(spec.mounts ?? []);
  const { beforePivot, afterPivot } = mountSteps(mounts);
  const childSteps = [
    ...(ns.unshareFlags === 0 ? [] : [step('unshare', ns.unshareFlags)]),
    ...rootfsSteps(rootfs),
    ...beforePivot,
    pivotStep(),
    ...afterPivot,
    ...deviceSteps(spec.linux?.devices ?? [], devIsTmpfs(mounts)),
    ...pathSteps(spec),
    ...(spec.root?.readonly === true ? [readonlyRootStep()] : []),
    ...(spec.hostname === undefined ? [] : [step('hostname', spec.hostname)]),
    ...processSteps(spec.process, { barrier: true, createCwd: true }),
  ];
  const parentSteps = [
    step('ns', ns.cloneFlags),
    step('cgroup', cgroupPath),
    step('devices', encodeDeviceRules(deviceRules(spec.linux)), GUEST_DEVICE_PROGRAMS_DIR),
    ...ns.joins.map((join) => step('setns', join.pid, join.flags)),
    ...terminalSteps(spec.process),
  ];
  return { parentSteps, childSteps, terminal: spec.process.terminal === true };
}

export function execPlan(process: OciProcess, initPid: number, ns: NamespacePlan, cgroupPath: string): ProcessPlan {
  return {
    // The cgroup directory is opened first: after the join, paths resolve in the container.
    parentSteps: [step('cgroup', cgroupPath), step('join', initPid, ns.joinFlags), ...terminalSteps(process)],
    childSteps: processSteps(process, { barrier: false, createCwd: false }),
    terminal: process.terminal === true,
  };
}
