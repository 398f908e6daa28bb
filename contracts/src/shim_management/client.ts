// vfs-runtime's side of the management protocol.
import { JsonLinesClient } from '../json_lines/client';
import type { VolumeAdd, VolumeInfo } from './protocol';

export class ManagementClient {
  private constructor(private readonly lines: JsonLinesClient) {}

  static async connect(path: string): Promise<ManagementClient> {
    return new ManagementClient(await JsonLinesClient.connect(path, 'management'));
  }

  async addVolume(volume: Omit<VolumeAdd, 'id' | 'op'>): Promise<void> {
    await this.lines.call('volume-add', volume);
  }

  async removeVolume(containerId: string, target: string): Promise<void> {
    await this.lines.call('volume-remove', { containerId, target });
  }

  async listVolumes(containerId = ''): Promise<readonly VolumeInfo[]> {
    const answer = await this.lines.call<{ id: number; ok: boolean; volumes?: readonly VolumeInfo[] }>('volume-list', {
      containerId,
    });
    return answer.volumes ?? [];
  }

  close(): void {
    this.lines.close();
  }
}
