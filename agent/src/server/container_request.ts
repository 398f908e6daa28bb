/**
 * CreateContainer and ExecProcess requests as the container core takes them: the OCI spec
 * checked, the rootfs and bind mounts resolved from share refs to guest paths, and the
 * request's terminal flag (what the shim relays by) put into the process.
 */
import { errorMessage, parseProcess, SpecError, type OciMount, type OciProcess } from '@vfs/contracts';
import type { ContainerMount, CreateContainerRequest, Rootfs } from '@vfs/proto/gen/agent/agent';
import type { ContainerConfig } from '../container/container';
import type { RootfsSpec } from '../container/rootfs';
import { parseSpecJson, type ContainerSpec } from '../oci/container_spec';
import { invalid } from './call_errors';
import type { ShareTable } from './share_table';

interface ResolvedRootfs {
  readonly rootfs: RootfsSpec;
  readonly readonly: boolean;
}

function resolveRootfs(rootfs: Rootfs | undefined, shares: ShareTable): ResolvedRootfs {
  const kind = rootfs?.kind;
  if (kind === undefined) throw invalid('rootfs: neither overlay nor directory given');
  if (kind.$case === 'directory') {
    return {
      rootfs: { kind: 'bind', source: shares.resolve(kind.directory.dir, 'rootfs directory') },
      readonly: kind.directory.readonly,
    };
  }
  const { overlay } = kind;
  const lowerDirs = overlay.lower.map((ref, i) => shares.resolve(ref, `rootfs lower[${i}]`));
  if (overlay.upper === undefined && overlay.work === undefined) {
    // A read-only view of one layer needs no overlay at all.
    if (lowerDirs.length === 1) return { rootfs: { kind: 'bind', source: lowerDirs[0] as string }, readonly: true };
    return { rootfs: { kind: 'overlay', lowerDirs, options: overlay.options }, readonly: false };
  }
  return {
    rootfs: {
      kind: 'overlay',
      lowerDirs,
      upperDir: shares.resolve(overlay.upper, 'rootfs upper'),
      workDir: shares.resolve(overlay.work, 'rootfs work'),
      options: overlay.options,
    },
    readonly: false,
  };
}

function bindMount(mount: ContainerMount, shares: ShareTable): OciMount {
  return {
    destination: mount.destination,
    type: 'bind',
    source: shares.resolve(mount.source, `mount ${mount.destination}`),
    options: ['rbind', ...mount.options, mount.readonly ? 'ro' : 'rw'],
  };
}

export function containerConfig(request: CreateContainerRequest, shares: ShareTable): ContainerConfig {
  const spec = parseSpecJson(request.ociSpecJson.toString('utf8'));
  const { rootfs, readonly } = resolveRootfs(request.rootfs, shares);
  const withRequest: ContainerSpec = {
    ...spec,
    process: { ...spec.process, terminal: request.terminal },
    root: { path: spec.root?.path ?? 'rootfs', readonly: readonly || spec.root?.readonly === true },
    mounts: [...(spec.mounts ?? []), ...request.mounts.map((m) => bindMount(m, shares))],
  };
  return { id: request.containerId, spec: withRequest, rootfs };
}

export function execProcess(processJson: Buffer, terminal: boolean): OciProcess {
  let value: unknown;
  try {
    value = JSON.parse(processJson.toString('utf8'));
  } catch (err) {
    throw new SpecError('$', `process is not JSON: ${errorMessage(err)}`);
  }
  return { ...parseProcess(value), terminal };
}
