// `vfs-runtime volume list` as a table: one row per volume, columns as wide as their widest cell.
import type { VolumeInfo } from '@vfs/contracts';

const HEADER = ['CONTAINER', 'TARGET', 'SOURCE', 'MODE', 'TAG'];

function cells(volume: VolumeInfo): string[] {
  return [volume.containerId, volume.target, volume.source, volume.readonly ? 'ro' : 'rw', volume.tag];
}

export function renderVolumeTable(volumes: readonly VolumeInfo[]): string {
  const rows = [HEADER, ...volumes.map(cells)];
  const widths = HEADER.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return `${rows.map(line).join('\n')}\n`;
}
