/**
 * A guest reads files through a DAX window while QEMU pauses and resumes it (QMP `stop` and
 * `cont`, as a snapshot or a pause does), and every read succeeds.
 *
 * Pausing stops the vhost-user rings (SET_VRING_ENABLE 0, GET_VRING_BASE), and QEMU serves the
 * back-end channel only from its main loop: a SHMEM_MAP the daemon sent just before is not
 * answered until those are. vfs-virtiofsd used to hold the ring stop back behind the map's reply,
 * so the pause stalled for the daemon's 5 s timeout, and the late reply was then taken as the next
 * request's, which broke every later map of that VM. Now the daemon gives the wait up, puts the
 * guest's request back on its ring, and runs it again once the ring resumes (ARCHITECTURE.md, DAX).
 * Needs our QEMU (`make vmm`): Debian's has no DAX window.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootArgs, scriptExitStatus } from '@vfs/contracts';
import { BOOT_TIMEOUT_MS, GuestVms, requireGuestImage, vmConfig, withDeadline } from '@vfs/harness/guest_vm';
import { requireOurQemu } from '@vfs/harness/our_qemu';
import { StandaloneDaemon } from '@vfs/harness/standalone_daemon';
import { QmpClient, waitForConsole } from '@vfs/shim/vm';

/** Four 2 MiB ranges for sixteen 4 MiB files: the guest maps and unmaps all the time. */
const WINDOW_MIB = 8;
const FILES = 16;
const FILE_BYTES = 4 << 20;
/**
 * Pauses at random points of the reading: at least MIN_PAUSES, and until this many guest requests
 * were put back (10 in 40 pauses in a measured run here) or MAX_PAUSES were made.
 */
const MEETINGS = 3;
const MIN_PAUSES = 20;
const MAX_PAUSES = 200;
const RUNNING_MS = 100;
/** What the daemon logs for each request it puts back (daemon/src/device/session.ts). */
const PUT_BACK = 'request put back';

jest.setTimeout(3 * BOOT_TIMEOUT_MS);

const files = Array.from({ length: FILES }, (_, i) => `f${i}`);

/** Two readers over half the files each until the host creates `stop`; then checks every file. */
function guestScript(): string {
  const half = (from: number): string =>
    files
      .slice(from, from + FILES / 2)
      .map((f) => `/mnt/dax/${f}`)
      .join(' ');
  return `mkdir -p /mnt/dax && mount -t virtiofs -o dax=always dax /mnt/dax || exit 3
grep -q ' /mnt/dax virtiofs .*dax=always' /proc/mounts || exit 4
read_until_stopped() {
  while [ ! -e "$VFS_SHARE/stop" ]; do
    for f in "$@"; do cat "$f" > /dev/null || echo "READ-FAILED $f"; done
  done
}
echo READING
read_until_stopped ${half(0)} &
read_until_stopped ${half(FILES / 2)}
wait
cd /mnt/dax && md5sum -c sums
`;
}

/** A QMP command's answer: a pause is answered in milliseconds, this only ends a hang. */
const QMP_DEADLINE_MS = 10_000;
/** What the old daemon logged when a pause held its map's reply back into the timeout. */
const REPLY_TIMED_OUT = 'no reply to SHMEM_';

let workDir = '';
const daemons: StandaloneDaemon[] = [];
let vms: GuestVms | undefined;

/** The DAX daemon's log lines that contain `text`. */
function daxLogLines(text: string): string[] {
  return readFileSync(join(workDir, 'dax.log'), 'utf8')
    .split('\n')
    .filter((line) => line.includes(text));
}

/** Our daemon serving `workDir`/`name` at cache=auto, logging to `name`.log; returns its socket. */
async function startDaemon(name: string, extra: string[] = []): Promise<string> {
  const daemon = await StandaloneDaemon.start(
    join(workDir, name),
    join(workDir, `${name}.sock`),
    join(workDir, `${name}.log`),
    ['--cache=auto', ...extra],
  );
  daemons.push(daemon);
  return daemon.socketPath;
}

beforeAll(() => {
  requireGuestImage();
  requireOurQemu();
  workDir = mkdtempSync(join(tmpdir(), 'vfs-dax-pause-'));
  for (const dir of ['work', 'dax']) mkdirSync(join(workDir, dir));
  writeFileSync(join(workDir, 'work', 'run.sh'), guestScript());
  const sums = files.map((f, i) => {
    const bytes = Buffer.alloc(FILE_BYTES, i + 1);
    writeFileSync(join(workDir, 'dax', f), bytes);
    return `${createHash('md5').update(bytes).digest('hex')}  ${f}\n`;
  });
  writeFileSync(join(workDir, 'dax', 'sums'), sums.join(''));
});

afterAll(() => {
  try {
    vms?.killAll();
    for (const d of daemons) d.kill();
  } finally {
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  }
});

/** One QMP command, failing instead of hanging. */
function qmpCommand(qmp: QmpClient, command: string): Promise<unknown> {
  return withDeadline(qmp.execute(command), QMP_DEADLINE_MS, `QMP ${command} was not answered`);
}

test('a guest paused and resumed while it maps files into its DAX window reads every file intact', async () => {
  const work = await startDaemon('work');
  const dax = await startDaemon('dax', [`--dax-window=${WINDOW_MIB}`]);
  vms = new GuestVms(requireOurQemu());
  try {
    const consoleLog = join(workDir, 'console.log');
    const config = vmConfig(workDir, 'q35', bootArgs({ mode: 'script', tag: 'work', script: 'run.sh' }), [
      { id: 'fs0', socketPath: work, tag: 'work' },
      { id: 'fs1', socketPath: dax, tag: 'dax', cacheSizeMiB: WINDOW_MIB },
    ]);
    const qmpSocket = join(workDir, 'qmp.sock');
    const qemu = await vms.start(workDir, { ...config, memoryMiB: 512, vcpus: 2, qmpSocketPath: qmpSocket });
    await waitForConsole(consoleLog, /^READING\r?$/m, { timeoutMs: BOOT_TIMEOUT_MS, abortOn: qemu.exited });
    const qmp = await QmpClient.connect(qmpSocket);
    let pauses = 0;
    try {
      const more = (): boolean =>
        daxLogLines(REPLY_TIMED_OUT).length === 0 &&
        (pauses < MIN_PAUSES || (pauses < MAX_PAUSES && daxLogLines(PUT_BACK).length < MEETINGS));
      while (more()) {
        await qmpCommand(qmp, 'stop');
        await qmpCommand(qmp, 'cont');
        pauses++;
        await sleep(RUNNING_MS);
      }
    } finally {
      qmp.close();
    }
    writeFileSync(join(workDir, 'work', 'stop'), '');
    await withDeadline(qemu.exited, BOOT_TIMEOUT_MS, 'the guest did not finish');
    const output = readFileSync(consoleLog, 'utf8');
    const putBack = daxLogLines(PUT_BACK).length;
    process.stdout.write(`${pauses} pauses: ${putBack} guest requests put back on their ring and run again\n`);
    // The old daemon held the pause back until its wait for the map's reply timed out.
    expect(daxLogLines(REPLY_TIMED_OUT)).toEqual([]);
    expect(output.split('\n').filter((line) => line.includes('READ-FAILED'))).toEqual([]);
    expect(scriptExitStatus(output)).toBe(0);
    // Else nothing was tested: no pause met a map in flight.
    expect(putBack).toBeGreaterThan(0);
  } finally {
    vms.killAll();
  }
});
