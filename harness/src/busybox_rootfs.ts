/**
 * A minimal container rootfs from the host's static busybox (busybox-static): bin/ with one link
 * per applet, etc/passwd and etc/group with root and an unprivileged user, and the empty
 * directories a container's mounts land on.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';

export interface BusyboxRootfsOptions {
  /** Extra files, relative path → content. */
  readonly files?: Readonly<Record<string, string>>;
}

export function buildBusyboxRootfs(dir: string, opts: BusyboxRootfsOptions = {}): void {
  for (const sub of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/user'])
    mkdirSync(join(dir, sub), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'busybox');
  for (const applet of applets) symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(
    join(dir, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n',
  );
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\ntty:x:5:\nuser:x:1000:\nextra:x:2000:user\n');
  for (const [path, content] of Object.entries(opts.files ?? {})) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}
