// Which VMs a warm pool may hand to a shim: only one booted exactly as the shim would boot its
// own. The fingerprint covers every setting that shapes the VM ([hypervisor], [daemon]), the
// version, and the files it runs (kernel, initramfs, daemon, the guest runtime: node, the agent,
// its startup snapshot and flags, the launcher) by path and mtime, so a rebuilt guest is never
// served from a VM booted before the rebuild.

import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { VFS_VERSION } from '@vfs/contracts';
import { guestRuntime, type LoadedConfig } from '@vfs/runtime-config';

function mtimeOf(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/** The guest runtime's files (agent/runtime.mk), also inside its images. */
const RUNTIME_FILES = ['node', 'agent.js', 'agent.blob', 'agent.blob.flags', 'vfs-launcher', 'busybox'];

export function poolFingerprint(config: LoadedConfig['config'], runtimeDir: string): string {
  const files = [
    config.hypervisor.kernel,
    config.hypervisor.initramfs,
    config.daemon.path,
    ...RUNTIME_FILES.map((name) => join(runtimeDir, name)),
  ];
  const facts = {
    version: VFS_VERSION,
    hypervisor: config.hypervisor,
    daemon: config.daemon,
    // Image or share: the same files, but a VM booted one way is not the VM the shim would boot.
    agentRuntime: guestRuntime(config),
    runtimeDir,
    files: files.map((path) => [path, mtimeOf(path)]),
  };
  return createHash('sha256').update(JSON.stringify(facts)).digest('hex').slice(0, 16);
}
