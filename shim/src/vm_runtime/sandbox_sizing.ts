// Static sandbox sizing, Kata's static_sandbox_resource_mgmt: a VM that hot-plugs neither memory
// nor vCPUs boots with room for its workload's limits on top of [hypervisor]'s base, so a container
// can use what its limits allow, as under runc. The workload is a CRI pod's (the sandbox
// container's io.kubernetes.cri.sandbox-* annotations: the sum of the pod's limits, as kubelet
// computes it) or a lone container's own linux.resources (ctr run --memory-limit/--cpus, docker run
// --memory/--cpus). Capped at the host's CPUs and memory: a limit beyond them is one runc could
// never reach either, while each guest MiB costs the host its struct pages; and at what the guest
// kernel and the configuration take. Sized once, at the sandbox's start: a pod resized in place
// later keeps its VM's size.

import type { LoadedConfig } from '@vfs/runtime-config';
import type { ShimSpec } from '../oci_spec';
import { SandboxError } from '../sandbox_error';

type Config = LoadedConfig['config'];

const CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
const SANDBOX_MEMORY = 'io.kubernetes.cri.sandbox-memory';
const SANDBOX_CPU_QUOTA = 'io.kubernetes.cri.sandbox-cpu-quota';
const SANDBOX_CPU_PERIOD = 'io.kubernetes.cri.sandbox-cpu-period';
const MIB = 1024 * 1024;
// The CFS period runc and the agent take when a spec gives a quota alone.
const DEFAULT_CPU_PERIOD = 100_000;
// The guest kernel's CONFIG_NR_CPUS (agent/image/kernel/guest.config).
const GUEST_MAX_VCPUS = 64;
// [hypervisor] memory_mib's own maximum (runtime-config/src/schema.ts).
const MAX_MEMORY_MIB = 262_144;

/** What the workload's limits ask for beyond the base VM; 0 where it sets no limit. */
export interface WorkloadResources {
  readonly memoryMiB: number;
  readonly vcpus: number;
}

export interface HostCapacity {
  readonly cpus: number;
  readonly memoryMiB: number;
}

/** The VM's size, and what the host's capacity took off it. */
export interface SandboxSize {
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly capped: readonly string[];
}

function annotationInteger(annotations: Readonly<Record<string, string>>, key: string): number {
  const text = annotations[key];
  if (text === undefined || text === '') return 0;
  if (!/^-?\d+$/.test(text))
    throw new SandboxError('bad-request', `annotation ${key} must be an integer, not "${text}"`);
  return Number(text);
}

/** Any integer, however large ("unlimited" is sometimes written as 2^63 - 1): sandboxSize caps it. */
function specInteger(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new SandboxError('bad-request', `linux.resources.${field} must be an integer, not ${JSON.stringify(value)}`);
  return value;
}

/** A field of linux.resources (memory.limit, cpu.quota …): 0 when absent. */
function resourceInteger(spec: ShimSpec, group: 'memory' | 'cpu', key: string): number {
  const resources = (spec.linux as { resources?: unknown } | undefined)?.resources;
  if (resources === undefined || resources === null) return 0;
  const section = (resources as Record<string, unknown>)[group];
  if (section === undefined || section === null) return 0;
  if (typeof section !== 'object') throw new SandboxError('bad-request', `linux.resources.${group} must be an object`);
  return specInteger((section as Record<string, unknown>)[key], `${group}.${key}`);
}

/** Negative or zero means no limit, in the annotations (-1 quota) as in the spec. */
function workload(memoryBytes: number, quota: number, period: number): WorkloadResources {
  return {
    memoryMiB: memoryBytes > 0 ? Math.ceil(memoryBytes / MIB) : 0,
    vcpus: quota > 0 ? Math.ceil(quota / (period > 0 ? period : DEFAULT_CPU_PERIOD)) : 0,
  };
}

/** The limits the sandbox's first container carries for the whole sandbox. */
export function workloadResources(spec: ShimSpec): WorkloadResources {
  const annotations = spec.annotations ?? {};
  if (annotations[CONTAINER_TYPE] === 'sandbox') {
    return workload(
      annotationInteger(annotations, SANDBOX_MEMORY),
      annotationInteger(annotations, SANDBOX_CPU_QUOTA),
      annotationInteger(annotations, SANDBOX_CPU_PERIOD),
    );
  }
  return workload(
    resourceInteger(spec, 'memory', 'limit'),
    resourceInteger(spec, 'cpu', 'quota'),
    resourceInteger(spec, 'cpu', 'period'),
  );
}

/**
 * The base plus the workload, each capped at the host's capacity and at what the guest and the
 * configuration take, never below the base.
 */
export function sandboxSize(base: Config['hypervisor'], wanted: WorkloadResources, host: HostCapacity): SandboxSize {
  const capped: string[] = [];
  const grow = (name: string, from: number, extra: number, limit: number): number => {
    const size = from + extra;
    if (extra === 0 || size <= limit) return size;
    const used = Math.max(from, limit);
    capped.push(`${name}: ${size} wanted, ${used} given (at most ${limit})`);
    return used;
  };
  return {
    memoryMiB: grow('memory MiB', base.memory_mib, wanted.memoryMiB, Math.min(host.memoryMiB, MAX_MEMORY_MIB)),
    vcpus: grow('vCPUs', base.vcpus, wanted.vcpus, Math.min(host.cpus, GUEST_MAX_VCPUS)),
    capped,
  };
}

/** The sandbox's VM configuration: sized for the workload when the configuration asks for it. */
export function sandboxVmConfig(
  config: Config,
  spec: ShimSpec,
  host: HostCapacity,
): { config: Config; size?: SandboxSize } {
  if (!config.runtime.static_sandbox_resource_mgmt) return { config };
  const size = sandboxSize(config.hypervisor, workloadResources(spec), host);
  return { config: sizedConfig(config, size), size };
}

/** The configuration the sandbox's VM boots with: [hypervisor] sized for the workload when asked to. */
export function sizedConfig(config: Config, size: SandboxSize): Config {
  if (size.memoryMiB === config.hypervisor.memory_mib && size.vcpus === config.hypervisor.vcpus) return config;
  return { ...config, hypervisor: { ...config.hypervisor, memory_mib: size.memoryMiB, vcpus: size.vcpus } };
}
