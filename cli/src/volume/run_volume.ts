// `vfs-runtime volume add|remove|list`: what can be checked here is checked before the sandbox's
// shim is asked (the source directory, which container's sandbox); the shim's refusals are
// printed in its words.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { errorMessage, ManagementClient, runDir, type VolumeInfo } from '@vfs/contracts';
import type { VolumeCommand } from '../args';
import type { CliIo } from '../cli_io';
import { findContainerSandbox, listSandboxes, type SandboxRef } from './sandbox_lookup';
import { VolumeError } from './volume_error';
import { renderVolumeTable } from './volume_table';

/** The absolute path of an existing directory; the shim would refuse anything else, less clearly. */
function sourceDirectory(cwd: string, source: string): string {
  const path = resolve(cwd, source);
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VolumeError(
      code === 'ENOENT' ? `--source ${path} does not exist` : `--source ${path}: ${errorMessage(err)}`,
    );
  }
  if (!isDirectory) throw new VolumeError(`--source ${path} is not a directory`);
  return path;
}

async function withShim<T>(sandbox: SandboxRef, use: (client: ManagementClient) => Promise<T>): Promise<T> {
  let client: ManagementClient;
  try {
    client = await ManagementClient.connect(sandbox.managementSocket);
  } catch (err) {
    throw new VolumeError(
      `the shim of sandbox ${sandbox.sandboxId} (namespace ${sandbox.namespace}) does not answer: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

/** Every sandbox asked, even after one fails to answer; the failures go to stderr. */
async function listVolumes(io: CliIo, command: Extract<VolumeCommand, { name: 'volume list' }>): Promise<number> {
  const root = runDir(io.env);
  const sandboxes =
    command.containerId === undefined
      ? listSandboxes(root, command.namespace)
      : [findContainerSandbox(root, command.containerId, command.namespace)];
  const volumes: VolumeInfo[] = [];
  let status = 0;
  for (const sandbox of sandboxes) {
    try {
      volumes.push(...(await withShim(sandbox, (shim) => shim.listVolumes(command.containerId))));
    } catch (err) {
      io.err(`vfs-runtime: ${errorMessage(err)}\n`);
      status = 1;
    }
  }
  io.out(command.json ? `${JSON.stringify(volumes, null, 2)}\n` : renderVolumeTable(volumes));
  return status;
}

export async function runVolume(io: CliIo, command: VolumeCommand): Promise<number> {
  switch (command.name) {
    case 'volume add': {
      const { containerId, target, readonly } = command;
      const source = sourceDirectory(io.cwd, command.source);
      const sandbox = findContainerSandbox(runDir(io.env), containerId, command.namespace);
      await withShim(sandbox, (shim) => shim.addVolume({ containerId, source, target, readonly }));
      io.out(`${source} is at ${target} in container ${containerId} (${readonly ? 'read-only' : 'read-write'})\n`);
      return 0;
    }
    case 'volume remove': {
      const { containerId, target } = command;
      const sandbox = findContainerSandbox(runDir(io.env), containerId, command.namespace);
      await withShim(sandbox, (shim) => shim.removeVolume(containerId, target));
      io.out(`removed the volume at ${target} from container ${containerId}\n`);
      return 0;
    }
    case 'volume list':
      return listVolumes(io, command);
  }
}
