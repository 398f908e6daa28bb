import { defaultConfig } from '@vfs/runtime-config';
import type { ShimSpec } from '../oci_spec';
import { sandboxSize, sandboxVmConfig, sizedConfig, workloadResources } from './sandbox_sizing';

const base = defaultConfig();
const bigHost = { cpus: 64, memoryMiB: 1 << 20 };

function podSandbox(annotations: Record<string, string>): ShimSpec {
  return { ociVersion: '1.0.2', annotations: { 'io.kubernetes.cri.container-type': 'sandbox', ...annotations } };
}

function loneContainer(resources: unknown): ShimSpec {
  return { ociVersion: '1.0.2', linux: { resources } as ShimSpec['linux'] };
}

describe('static sandbox sizing', () => {
  it("takes a pod's summed limits from its sandbox container's CRI annotations", () => {
    const spec = podSandbox({
      'io.kubernetes.cri.sandbox-memory': String(300 * 1024 * 1024 + 1),
      'io.kubernetes.cri.sandbox-cpu-quota': '150000',
      'io.kubernetes.cri.sandbox-cpu-period': '100000',
    });
    expect(workloadResources(spec)).toEqual({ memoryMiB: 301, vcpus: 2 });
    // Unset: containerd writes 0, and -1 for an unlimited quota.
    const unset = podSandbox({
      'io.kubernetes.cri.sandbox-memory': '0',
      'io.kubernetes.cri.sandbox-cpu-quota': '-1',
      'io.kubernetes.cri.sandbox-cpu-period': '100000',
    });
    expect(workloadResources(unset)).toEqual({ memoryMiB: 0, vcpus: 0 });
    expect(workloadResources(podSandbox({}))).toEqual({ memoryMiB: 0, vcpus: 0 });
  });

  it("takes a lone container's own linux.resources, and ignores a pod container's (its sandbox has them)", () => {
    expect(
      workloadResources(loneContainer({ memory: { limit: 256 * 1024 * 1024 }, cpu: { quota: 50000, period: 100000 } })),
    ).toEqual({ memoryMiB: 256, vcpus: 1 });
    expect(workloadResources(loneContainer({ memory: { limit: -1 } }))).toEqual({ memoryMiB: 0, vcpus: 0 });
    expect(workloadResources({ ociVersion: '1.0.2' })).toEqual({ memoryMiB: 0, vcpus: 0 });
    // A quota alone (docker run --cpu-quota) is over runc's default period of 100 ms.
    expect(workloadResources(loneContainer({ cpu: { quota: 200000 } }))).toEqual({ memoryMiB: 0, vcpus: 2 });
    expect(workloadResources(loneContainer({ cpu: { quota: 150000, period: 0 } })).vcpus).toBe(2);
    // "Unlimited" written as 2^63 - 1: a number past 2^53, taken as it is and capped later.
    expect(
      workloadResources(loneContainer(JSON.parse('{"memory":{"limit":9223372036854775807}}'))).memoryMiB,
    ).toBeGreaterThan(2 ** 42);
    const podContainer: ShimSpec = {
      ociVersion: '1.0.2',
      annotations: {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.sandbox-memory': String(1 << 30),
      },
      linux: { resources: { memory: { limit: 1 << 30 } } } as ShimSpec['linux'],
    };
    expect(workloadResources(podContainer)).toEqual({ memoryMiB: 1024, vcpus: 0 });
  });

  it('refuses a limit that is not an integer, naming it', () => {
    expect(() => workloadResources(podSandbox({ 'io.kubernetes.cri.sandbox-memory': '1Gi' }))).toThrow(
      'annotation io.kubernetes.cri.sandbox-memory must be an integer, not "1Gi"',
    );
    expect(() => workloadResources(loneContainer({ memory: { limit: '1G' } }))).toThrow(
      'linux.resources.memory.limit must be an integer, not "1G"',
    );
    expect(() => workloadResources(loneContainer({ cpu: 4 }))).toThrow('linux.resources.cpu must be an object');
  });

  it('adds the workload to the base and caps each at the host, never below the base', () => {
    const size = sandboxSize(base.hypervisor, { memoryMiB: 256, vcpus: 1 }, bigHost);
    expect(size).toEqual({ memoryMiB: 768, vcpus: 2, capped: [] });
    const sized = sizedConfig(base, size).hypervisor;
    expect([sized.memory_mib, sized.vcpus, sized.machine]).toEqual([768, 2, base.hypervisor.machine]);

    const small = sandboxSize(base.hypervisor, { memoryMiB: 4096, vcpus: 8 }, { cpus: 2, memoryMiB: 2048 });
    expect(small).toEqual({
      memoryMiB: 2048,
      vcpus: 2,
      capped: ['memory MiB: 4608 wanted, 2048 given (at most 2048)', 'vCPUs: 9 wanted, 2 given (at most 2)'],
    });
    // The guest kernel's 64 CPUs and memory_mib's maximum bound a big host too.
    const huge = sandboxSize(base.hypervisor, { memoryMiB: 1 << 30, vcpus: 500 }, { cpus: 512, memoryMiB: 2 ** 31 });
    expect([huge.memoryMiB, huge.vcpus]).toEqual([262144, 64]);
    const tiny = sandboxSize(base.hypervisor, { memoryMiB: 64, vcpus: 0 }, { cpus: 1, memoryMiB: 256 });
    expect([tiny.memoryMiB, tiny.vcpus]).toEqual([512, 1]);
  });

  it('leaves the configuration as it is for a workload without limits, or when static_sandbox_resource_mgmt is off', () => {
    const size = sandboxSize(base.hypervisor, { memoryMiB: 0, vcpus: 0 }, bigHost);
    expect(sizedConfig(base, size)).toBe(base);
    const limited = loneContainer({ memory: { limit: 256 << 20 } });
    expect(sandboxVmConfig(base, limited, bigHost).config.hypervisor.memory_mib).toBe(768);
    const off = { ...base, runtime: { ...base.runtime, static_sandbox_resource_mgmt: false } };
    expect(sandboxVmConfig(off, limited, bigHost).config).toBe(off);
  });
});
