/**
 * vfs-virtiofsd --allow-mmap, as virtiofsd has it, in a real guest: at cache=none the daemon opens
 * every file FOPEN_DIRECT_IO, which a guest kernel refuses to map shared (ENODEV) unless the daemon
 * negotiated FUSE_DIRECT_IO_ALLOW_MMAP. With it the mapping goes through the guest's page cache and
 * what the guest wrote through it reaches the host's file at msync.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootArgs, scriptExitStatus } from '@vfs/contracts';
import { BOOT_TIMEOUT_MS, GuestVms, requireGuestImage, vmConfig } from '@vfs/harness/guest_vm';
import { StandaloneDaemon } from '@vfs/harness/standalone_daemon';

jest.setTimeout(2 * BOOT_TIMEOUT_MS);

const FILE_BYTES = 8192;

/** Maps FILE (created, FILE_BYTES long) shared and writable, fills it, msyncs: `MMAP ok` or `MMAP failed <errno>`. */
const PROGRAM = String.raw`
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, ${FILE_BYTES}) != 0) { printf("MMAP setup failed %d\n", errno); return 1; }
  char *p = mmap(NULL, ${FILE_BYTES}, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) { printf("MMAP failed %d\n", errno); return 0; }
  for (int i = 0; i < ${FILE_BYTES}; i++) p[i] = (char)('a' + i % 26);
  if (msync(p, ${FILE_BYTES}, MS_SYNC) != 0) { printf("MMAP msync failed %d\n", errno); return 1; }
  munmap(p, ${FILE_BYTES});
  close(fd);
  printf("MMAP ok\n");
  return 0;
}
`;

const GUEST_SCRIPT = '"$VFS_SHARE/bin/mapwrite" "$VFS_SHARE/mapped"\n';

let workDir = '';

beforeAll(() => {
  requireGuestImage();
  workDir = mkdtempSync(join(tmpdir(), 'vfs-allow-mmap-'));
  const source = join(workDir, 'mapwrite.c');
  writeFileSync(source, PROGRAM);
  const binary = join(workDir, 'mapwrite');
  const cc = spawnSync('gcc', ['-O1', '-static', '-o', binary, source], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc failed: ${cc.stderr}`);
  chmodSync(binary, 0o755);
});

afterAll(() => {
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
});

/** A share at cache=none served with `flags`, the program run on it in a guest: its MMAP line and the share. */
async function mapInGuest(name: string, flags: readonly string[]): Promise<{ line: string; share: string }> {
  const dir = join(workDir, name);
  const share = join(dir, 'share');
  mkdirSync(join(share, 'bin'), { recursive: true });
  writeFileSync(join(share, 'bin', 'mapwrite'), readFileSync(join(workDir, 'mapwrite')), { mode: 0o755 });
  writeFileSync(join(share, 'run.sh'), GUEST_SCRIPT);
  const daemon = await StandaloneDaemon.start(share, join(dir, 'fs.sock'), join(dir, 'daemon.log'), [
    '--cache=none',
    ...flags,
  ]);
  const vms = new GuestVms();
  try {
    const config = vmConfig(dir, 'q35', bootArgs({ mode: 'script', tag: 'work', script: 'run.sh' }), [
      { id: 'fs0', socketPath: daemon.socketPath, tag: 'work' },
    ]);
    const boot = await vms.boot(dir, config);
    expect(scriptExitStatus(boot.console)).toBe(0);
    const line = boot.console
      .split('\n')
      .map((l) => l.trimEnd())
      .find((l) => l.startsWith('MMAP '));
    return { line: line ?? `no MMAP line in the console:\n${boot.console}`, share };
  } finally {
    vms.killAll();
    daemon.kill();
  }
}

test('at cache=none, a shared writable mapping fails with ENODEV without --allow-mmap', async () => {
  const { line } = await mapInGuest('refused', []);
  expect(line).toBe('MMAP failed 19');
});

test('with --allow-mmap the guest maps the file shared, and what it wrote is in the host file', async () => {
  const { line, share } = await mapInGuest('allowed', ['--allow-mmap']);
  expect(line).toBe('MMAP ok');
  const expected = Buffer.from(Array.from({ length: FILE_BYTES }, (_, i) => 97 + (i % 26)));
  expect(readFileSync(join(share, 'mapped')).equals(expected)).toBe(true);
});
