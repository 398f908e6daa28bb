// A stand-in for a sandbox's shim on its management socket: it records the requests, keeps the
// volumes in a list and refuses as the shim would (a target taken twice, one that is not there).
// The real shim's answers are the e2e tests' business.
import { mkdirSync } from 'node:fs';
import {
  JsonLinesServer,
  type ManagementRequest,
  parseManagementRequest,
  sandboxPaths,
  type VolumeInfo,
} from '@vfs/contracts';

const quiet = { info: () => {}, warn: () => {} };

export class FakeShim {
  readonly requests: ManagementRequest[] = [];
  private volumes: VolumeInfo[] = [];
  private server: JsonLinesServer | undefined;

  static async start(runDir: string, namespace: string, sandboxId: string): Promise<FakeShim> {
    const shim = new FakeShim();
    const { vmSocketDir, managementSocket } = sandboxPaths(runDir, namespace, sandboxId);
    mkdirSync(vmSocketDir, { recursive: true });
    shim.server = await JsonLinesServer.listen(managementSocket, async (line) => shim.answer(line), quiet);
    return shim;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private answer(line: string): { id: number; ok: true; volumes?: VolumeInfo[] } {
    const request = parseManagementRequest(line);
    this.requests.push(request);
    const at = (v: VolumeInfo, target: string) => v.containerId === request.containerId && v.target === target;
    switch (request.op) {
      case 'volume-add': {
        if (this.volumes.some((v) => at(v, request.target)))
          throw new Error(`${request.target} is already a volume of container ${request.containerId}`);
        const { containerId, source, target, readonly } = request;
        this.volumes.push({ containerId, source, target, readonly, tag: `vol${this.volumes.length}` });
        return { id: request.id, ok: true };
      }
      case 'volume-remove':
        if (!this.volumes.some((v) => at(v, request.target)))
          throw new Error(`container ${request.containerId} has no volume at ${request.target}`);
        this.volumes = this.volumes.filter((v) => !at(v, request.target));
        return { id: request.id, ok: true };
      case 'volume-list':
        return {
          id: request.id,
          ok: true,
          volumes: this.volumes.filter((v) => request.containerId === '' || v.containerId === request.containerId),
        };
    }
  }
}
