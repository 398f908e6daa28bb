/**
 * A guest under TCG runs programs from a virtio-fs share in turn, each several times, and each run
 * gives the output it gives on the host.
 *
 * At cache=auto each open of a file drops the guest's cached pages of it, so every run reads the
 * program again into pages the guest just freed, and vfs-virtiofsd writes the file's bytes into
 * them without QEMU seeing a write. QEMU 10.2's TCG (ours, `make vmm`) finds translated code by
 * physical address alone, so without the guest zeroing the pages it allocates (init_on_alloc=1
 * on a TCG guest's command line) the second round ran code of the page's earlier contents and
 * crashed (ARCHITECTURE.md, 'Translated code under TCG'). Debian's QEMU 7.2 boots the same test.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootArgs, scriptExitStatus } from '@vfs/contracts';
import { BOOT_TIMEOUT_MS, GuestVms, requireGuestImage, vmConfig } from '@vfs/harness/guest_vm';
import { requireOurQemu } from '@vfs/harness/our_qemu';
import { StandaloneDaemon } from '@vfs/harness/standalone_daemon';

const ROUNDS = 4;

jest.setTimeout(4 * BOOT_TIMEOUT_MS);

/** Each variant links other parts of libc, so the same file offsets hold other code in each. */
const PROGRAM = String.raw`
#include <stdio.h>
#include <string.h>
int main(void) {
  unsigned long s = VARIANT;
  for (int i = 0; i < 1000 * VARIANT; i++) s = s * 2654435761UL + (unsigned long)i;
#if VARIANT == 1
  printf("variant 1 %lu\n", s);
#elif VARIANT == 2
  char line[64];
  snprintf(line, sizeof line, "variant 2 %lu", s);
  size_t n = strlen(line);
  snprintf(line + n, sizeof line - n, " %zu", n);
  puts(line);
#else
  fprintf(stdout, "variant %d %lu\n", VARIANT, s);
#endif
  return 0;
}
`;

/** name → the gcc flags that make it: two static programs and a static-pie one (it relocates itself). */
const PROGRAMS: Record<string, string[]> = {
  one: ['-static', '-no-pie', '-DVARIANT=1'],
  two: ['-static', '-no-pie', '-DVARIANT=2'],
  three: ['-static-pie', '-DVARIANT=3'],
};

/** Runs each program ROUNDS times in turn; prints `RUN <name> <output>` for each run, or its exit status. */
function guestScript(): string {
  const names = Object.keys(PROGRAMS).join(' ');
  return `i=0
while [ $i -lt ${ROUNDS} ]; do
  for p in ${names}; do
    out=$("$VFS_SHARE/bin/$p") && echo "RUN $p $out" || echo "RUN $p failed with status $?"
  done
  i=$((i + 1))
done
`;
}

let workDir = '';
let daemon: StandaloneDaemon | undefined;
const expected = new Map<string, string>();

beforeAll(async () => {
  requireGuestImage();
  workDir = mkdtempSync(join(tmpdir(), 'vfs-tcg-pages-'));
  const share = join(workDir, 'share');
  mkdirSync(join(share, 'bin'), { recursive: true });
  const source = join(workDir, 'program.c');
  writeFileSync(source, PROGRAM);
  for (const [name, flags] of Object.entries(PROGRAMS)) {
    const binary = join(share, 'bin', name);
    const cc = spawnSync('gcc', ['-O1', ...flags, '-o', binary, source], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`gcc ${flags.join(' ')} failed: ${cc.stderr}`);
    chmodSync(binary, 0o755);
    const run = spawnSync(binary, { encoding: 'utf8' });
    expected.set(name, run.stdout.trim());
  }
  writeFileSync(join(share, 'run.sh'), guestScript());
  daemon = await StandaloneDaemon.start(share, join(workDir, 'fs.sock'), join(workDir, 'daemon.log'), ['--cache=auto']);
});

afterAll(() => {
  try {
    daemon?.kill();
  } finally {
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  }
});

/** Boots the guest on `qemu` and returns its RUN lines. */
async function runInGuest(qemu: string | undefined, name: string): Promise<string[]> {
  const vms = new GuestVms(qemu);
  try {
    const dir = join(workDir, name);
    mkdirSync(dir);
    const config = vmConfig(dir, 'q35', bootArgs({ mode: 'script', tag: 'work', script: 'run.sh' }), [
      { id: 'fs0', socketPath: (daemon as StandaloneDaemon).socketPath, tag: 'work' },
    ]);
    const boot = await vms.boot(dir, config);
    expect(scriptExitStatus(boot.console)).toBe(0);
    return boot.console
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line.startsWith('RUN '));
  } finally {
    vms.killAll();
  }
}

function expectedRuns(): string[] {
  const names = Object.keys(PROGRAMS);
  return Array.from({ length: ROUNDS }, () => names.map((n) => `RUN ${n} ${expected.get(n)}`)).flat();
}

test('on our QEMU, every run of every program gives its host output', async () => {
  expect(await runInGuest(requireOurQemu(), 'ours')).toEqual(expectedRuns());
});

test("on Debian's QEMU, the same", async () => {
  expect(await runInGuest(undefined, 'debian')).toEqual(expectedRuns());
});
