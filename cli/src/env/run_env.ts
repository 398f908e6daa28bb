// `vfs-runtime env [--json]`: gathers the facts envReport shapes. A configuration that does not
// load is the command's error.
import { arch, release } from 'node:os';
import { ACCEL_CACHE } from '@vfs/contracts';
import type { CliIo } from '../cli_io';
import { effectiveConfig } from '../effective_config';
import { runCommand } from '../host/command_output';
import { expectedAccel } from '../host/expected_accel';
import { cgroupControllers, hostBootId, KVM_DEVICE, probeDevice, readAccelCache } from '../host/host_probe';
import { type EnvFacts, envReport, renderEnv } from './env_report';

export async function gatherEnvFacts(env: NodeJS.ProcessEnv): Promise<EnvFacts> {
  const { loaded, root } = effectiveConfig(env);
  const kvm = probeDevice(KVM_DEVICE);
  const [qemuVersion, containerdVersion] = await Promise.all([
    runCommand(loaded.config.hypervisor.path, ['--version']),
    runCommand('containerd', ['--version']),
  ]);
  return {
    loaded,
    root,
    nodeVersion: process.version,
    qemuVersion,
    containerdVersion,
    accel: expectedAccel({
      configured: loaded.config.hypervisor.accel,
      kvm,
      cache: readAccelCache(ACCEL_CACHE),
      bootId: hostBootId(),
    }),
    kvm,
    cgroupControllers: cgroupControllers(),
    kernelRelease: release(),
    arch: arch(),
  };
}

export async function runEnv(io: CliIo, json: boolean): Promise<number> {
  io.out(renderEnv(envReport(await gatherEnvFacts(io.env)), json ? 'json' : 'toml'));
  return 0;
}
