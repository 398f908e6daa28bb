// What `vfs-runtime env` reports, in kata-runtime env's shape: a section per part with its
// versions and the settings that matter most, then the whole effective configuration as
// configuration.toml spells it. Built from gathered facts, so it renders the same in tests.
import { VFS_VERSION } from '@vfs/contracts';
import { type LoadedConfig, runtimeShareDir, type VfsConfig } from '@vfs/runtime-config';
import { stringify } from 'smol-toml';
import { type CommandResult, versionLine } from '../host/command_output';
import { describeDevice, type ExpectedAccel } from '../host/expected_accel';
import { type Access, KVM_DEVICE } from '../host/host_probe';

export interface EnvFacts {
  readonly loaded: LoadedConfig;
  readonly root: string;
  readonly nodeVersion: string;
  readonly qemuVersion: CommandResult;
  readonly containerdVersion: CommandResult;
  readonly accel: ExpectedAccel;
  readonly kvm: Access;
  readonly cgroupControllers: readonly string[] | undefined;
  readonly kernelRelease: string;
  readonly arch: string;
}

export interface EnvReport {
  readonly Runtime: {
    readonly Version: string;
    readonly Node: string;
    readonly ConfigSource: string;
    readonly InstallRoot: string;
    readonly RuntimeShare: string;
  };
  readonly Hypervisor: {
    readonly Path: string;
    readonly Version: string;
    readonly Machine: string;
    readonly Accel: string;
    /** kvm, tcg, or unprobed until the first sandbox's probe boot. */
    readonly AccelInUse: string;
    readonly AccelReason: string;
  };
  readonly Kernel: { readonly Path: string; readonly Initramfs: string; readonly Params: string };
  readonly Daemon: { readonly Path: string; readonly Cache: string; readonly Sandbox: string };
  readonly Host: {
    readonly KernelRelease: string;
    readonly Arch: string;
    readonly CgroupV2: boolean;
    readonly Kvm: string;
    readonly Containerd: string;
  };
  readonly Configuration: VfsConfig;
}

export function envReport(facts: EnvFacts): EnvReport {
  const { config, source } = facts.loaded;
  const { hypervisor, daemon } = config;
  return {
    Runtime: {
      Version: VFS_VERSION,
      Node: facts.nodeVersion,
      ConfigSource: source,
      InstallRoot: facts.root,
      RuntimeShare: runtimeShareDir(facts.root),
    },
    Hypervisor: {
      Path: hypervisor.path,
      Version: versionLine(facts.qemuVersion),
      Machine: hypervisor.machine,
      Accel: hypervisor.accel,
      AccelInUse: facts.accel.accel,
      AccelReason: facts.accel.why,
    },
    Kernel: { Path: hypervisor.kernel, Initramfs: hypervisor.initramfs, Params: hypervisor.kernel_params },
    Daemon: { Path: daemon.path, Cache: daemon.cache, Sandbox: daemon.sandbox },
    Host: {
      KernelRelease: facts.kernelRelease,
      Arch: facts.arch,
      CgroupV2: facts.cgroupControllers !== undefined,
      Kvm: describeDevice(KVM_DEVICE, facts.kvm),
      Containerd: versionLine(facts.containerdVersion),
    },
    Configuration: config,
  };
}

export function renderEnv(report: EnvReport, format: 'toml' | 'json'): string {
  return format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : stringify(report);
}
