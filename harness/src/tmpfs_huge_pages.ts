// Whether a tmpfs may back its files with 2 MiB pages (mount option huge= other than never, or
// the host forcing it): there, a 4 KiB hole punched inside a huge page may only be zeroed, not
// freed, so tests that count a file's allocated bytes page by page cannot hold.
import { readFileSync } from 'node:fs';

function mountOptions(dir: string): string | undefined {
  let best: { point: string; options: string } | undefined;
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, point, type, options] = line.split(' ');
    if (type !== 'tmpfs' || point === undefined || options === undefined) continue;
    const covers = dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`);
    if (covers && (best === undefined || point.length > best.point.length)) best = { point, options };
  }
  return best?.options;
}

function shmemEnabled(): string {
  return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/shmem_enabled', 'utf8'))?.[1] ?? '';
}

/** Whether a memfd (guest RAM) may be backed by huge pages: shmem_enabled other than never or deny. */
export function memfdsMayUseHugePages(): boolean {
  return !['never', 'deny'].includes(shmemEnabled());
}

/** Whether files on the tmpfs holding `dir` may be backed by huge pages. */
export function tmpfsMayUseHugePages(dir: string): boolean {
  const forced = shmemEnabled() === 'force';
  const huge = /(?:^|,)huge=(\w+)/.exec(mountOptions(dir) ?? '')?.[1];
  return forced || (huge !== undefined && huge !== 'never');
}
