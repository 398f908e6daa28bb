// The sandbox's management socket (vfs-runtime ↔ this shim): the JSON-lines management protocol
// of @vfs/contracts, root only, answered by the VM runtime. A bad request or a refused operation
// is answered with its reason, and the socket keeps serving.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  JsonLinesServer,
  type ManagementAnswer,
  type ManagementRequest,
  parseManagementRequest,
  type VolumeInfo,
} from '@vfs/contracts';
import type { ShimLogger } from '../logger';
import type { VolumeRequest } from './volume_hotplug';

export interface ManagedVolumes {
  addVolume(request: VolumeRequest): Promise<VolumeInfo>;
  removeVolume(containerId: string, target: string): Promise<void>;
  listVolumes(containerId: string): readonly VolumeInfo[];
}

async function answer(request: ManagementRequest, volumes: ManagedVolumes): Promise<ManagementAnswer> {
  switch (request.op) {
    case 'volume-add': {
      const { containerId, source, target, readonly } = request;
      return {
        id: request.id,
        ok: true,
        volumes: [await volumes.addVolume({ containerId, source, target, readonly })],
      };
    }
    case 'volume-remove':
      await volumes.removeVolume(request.containerId, request.target);
      return { id: request.id, ok: true };
    case 'volume-list':
      return { id: request.id, ok: true, volumes: volumes.listVolumes(request.containerId) };
  }
}

export async function serveManagement(
  path: string,
  volumes: ManagedVolumes,
  log: ShimLogger,
): Promise<JsonLinesServer> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return JsonLinesServer.listen(path, (line) => answer(parseManagementRequest(line), volumes), log);
}
