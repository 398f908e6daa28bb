/**
 * The agent's container runtime core in a real guest under TCG, in ONE boot (a boot plus Node's
 * start cost seconds): /init's script mode mounts a read-write share (scenario, overlay uppers,
 * results), the script mounts the runtime share (build/runtime: node + libraries, agent.js,
 * vfs-launcher) and a read-only busybox rootfs share, then runs `agent.js --selftest`, which
 * drives the runtime core through a scenario and writes JSON results into the share.
 *
 * Checked: output and exit status (7 propagates), stdout/stderr separate, stdin through `cat`
 * with EOF, a terminal (isatty, size, resize), PID 1 in its own pid namespace, hostname, exec
 * into the namespaces, SIGTERM → 143 and SIGKILL → 137, pause/resume, stats and pids, cgroup
 * limits, user/groups/capabilities/no_new_privs/rlimits, a write landing in the host's upper
 * dir while the lower stays untouched (and a whiteout for a deletion), bind and read-only
 * roots, and typed errors (malformed spec, missing binary, unknown id) after which the agent
 * keeps working. Shares are served by the C virtiofsd for now.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitForConsole } from '../shim/src/vm/console_log';
import { hostTscKhz } from '../shim/src/vm/host_tsc';
import { buildQemuArgs, type VhostUserFsDevice } from '../shim/src/vm/qemu_command';
import { killQemuByPid, launchQemu } from '../shim/src/vm/qemu_process';
import { buildBusyboxRootfs } from './busybox_rootfs';

const ROOT = resolve(__dirname, '..');
const KERNEL = join(ROOT, 'build', 'guest', 'vmlinux');
const INITRD = join(ROOT, 'build', 'guest', 'initramfs.cpio.lz4');
const RUNTIME = join(ROOT, 'build', 'runtime');
const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const RUN_TIMEOUT_MS = 120_000;
const GUEST_LOWER = '/run/vfs/lower0';
const GUEST_SHARE = '/mnt/share';

jest.setTimeout(RUN_TIMEOUT_MS + 30_000);

// ---- scenario -------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function proc(args: string[], extra: Json = {}): Json {
  return { user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin', 'TERM=xterm'], cwd: '/', ...extra };
}

function spec(args: string[], extra: { process?: Json; [key: string]: unknown } = {}): Json {
  const { process: procExtra, ...rest } = extra;
  return { ociVersion: '1.1.0', process: proc(args, procExtra), root: { path: 'rootfs' }, hostname: 'vfs-test', ...rest };
}

function overlay(name: string): Json {
  return { kind: 'overlay', lowerDirs: [GUEST_LOWER], upperDir: `${GUEST_SHARE}/${name}/upper`, workDir: `${GUEST_SHARE}/${name}/work` };
}

const OVERLAY_CONTAINERS = ['c1', 'c2', 'c3', 'c4', 'c6', 'c7', 'c9', 'c10'];

const CAPS_ONLY_BIND = {
  bounding: ['CAP_NET_BIND_SERVICE'],
  effective: ['CAP_NET_BIND_SERVICE'],
  permitted: ['CAP_NET_BIND_SERVICE'],
  ambient: ['CAP_NET_BIND_SERVICE'],
  inheritable: ['CAP_NET_BIND_SERVICE'],
};

function scenario(): Json[] {
  return [
    // Output, exit status, PID 1, hostname, writes into the upper dir, a whiteout.
    {
      op: 'create',
      id: 'c1',
      rootfs: overlay('c1'),
      spec: spec(['sh', '-c', 'echo out-1; echo err-1 >&2; echo pid=$$; hostname; echo written >/newfile; echo appended >>/etc/motd; rm /etc/deleteme; echo out-2; exit 7']),
    },
    { op: 'start', id: 'c1' },
    { op: 'wait', id: 'c1' },
    { op: 'delete', id: 'c1' },
    // stdin through cat, EOF included; /dev/stdin is a real pipe.
    { op: 'create', id: 'c2', rootfs: overlay('c2'), spec: spec(['sh', '-c', 'cat; echo; cat /dev/stdin; echo done']) },
    { op: 'start', id: 'c2' },
    { op: 'write', id: 'c2', data: 'line-1\nline-2\n', close: true },
    { op: 'wait', id: 'c2' },
    { op: 'delete', id: 'c2' },
    // A terminal: isatty, its size, a resize.
    {
      op: 'create',
      id: 'c3',
      rootfs: overlay('c3'),
      spec: spec(['sh', '-c', '[ -t 0 ] && echo tty-yes; stty size; read line; echo got-$line; stty size'], {
        process: { terminal: true, consoleSize: { height: 30, width: 100 } },
      }),
    },
    { op: 'start', id: 'c3' },
    { op: 'waitOutput', id: 'c3', text: '30 100' },
    { op: 'resize', id: 'c3', rows: 40, cols: 120 },
    { op: 'write', id: 'c3', data: 'abc\n' },
    { op: 'wait', id: 'c3' },
    { op: 'delete', id: 'c3' },
    // A long-running container: execs, signals, pause/resume, stats, pids, limits, masked paths.
    {
      op: 'create',
      id: 'c4',
      rootfs: overlay('c4'),
      spec: spec(['sleep', '1000'], {
        mounts: [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] }],
        linux: {
          namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'cgroup' }],
          resources: { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 }, cpu: { quota: 50000, period: 100000 } },
          maskedPaths: ['/proc/kcore', '/sys/firmware'],
          readonlyPaths: ['/proc/sys'],
        },
      }),
    },
    { op: 'start', id: 'c4' },
    {
      op: 'exec',
      id: 'c4',
      exec: 'e1',
      process: proc(['sh', '-c', 'echo exec-pid=$$; tr "\\0" " " </proc/1/cmdline; echo; hostname; cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max; (echo x >/proc/sys/kernel/hostname) 2>/dev/null || echo proc-sys-ro; wc -c </proc/kcore']),
    },
    { op: 'wait', id: 'c4', exec: 'e1' },
    { op: 'exec', id: 'c4', exec: 'e2', process: proc(['sleep', '1000']) },
    { op: 'pids', id: 'c4' },
    { op: 'signal', id: 'c4', exec: 'e2', signal: 15 },
    { op: 'wait', id: 'c4', exec: 'e2' },
    { op: 'pause', id: 'c4' },
    { op: 'status', id: 'c4' },
    { op: 'resume', id: 'c4' },
    { op: 'stats', id: 'c4' },
    { op: 'exec', id: 'c4', exec: 'e3', process: proc(['/nonexistent']) },
    { op: 'exec', id: 'c4', exec: 'e4', process: proc(['sh', '-c', 'tty; stty size'], { terminal: true, consoleSize: { height: 11, width: 22 } }) },
    { op: 'wait', id: 'c4', exec: 'e4' },
    { op: 'signal', id: 'c4', signal: 9 },
    { op: 'wait', id: 'c4' },
    { op: 'delete', id: 'c4' },
    // Errors: a malformed spec, a missing binary, an unknown id; the agent goes on.
    { op: 'create', id: 'c5', rootfs: overlay('c5'), spec: { ...spec(['true']), process: { ...proc(['true']), args: 'true' } } },
    { op: 'create', id: 'c6', rootfs: overlay('c6'), spec: spec(['/nonexistent']) },
    { op: 'start', id: 'c6' },
    { op: 'wait', id: 'c6' },
    { op: 'start', id: 'nope' },
    { op: 'create', id: 'c7', rootfs: overlay('c7'), spec: spec(['echo', 'still-alive']) },
    { op: 'start', id: 'c7' },
    { op: 'wait', id: 'c7' },
    // A bind rootfs (one read-write directory) and a read-only root.
    { op: 'create', id: 'c8', rootfs: { kind: 'bind', source: `${GUEST_SHARE}/bindroot` }, spec: spec(['sh', '-c', 'echo bind-ok >/bindfile; cat /bindfile']) },
    { op: 'start', id: 'c8' },
    { op: 'wait', id: 'c8' },
    { op: 'create', id: 'c9', rootfs: overlay('c9'), spec: spec(['sh', '-c', 'touch /ro-test || echo ro-refused'], { root: { path: 'rootfs', readonly: true } }) },
    { op: 'start', id: 'c9' },
    { op: 'wait', id: 'c9' },
    // User, groups, capabilities, no_new_privs, rlimits, env, cwd.
    {
      op: 'create',
      id: 'c10',
      rootfs: overlay('c10'),
      spec: spec(['sh', '-c', 'id -u; id -G; grep -E "^(CapEff|CapBnd|CapAmb|NoNewPrivs)" /proc/self/status; ulimit -n; pwd; echo home=$HOME'], {
        process: {
          user: { uid: 1000, gid: 1000, additionalGids: [2000] },
          capabilities: CAPS_ONLY_BIND,
          noNewPrivileges: true,
          rlimits: [{ type: 'RLIMIT_NOFILE', soft: 256, hard: 512 }],
          cwd: '/home/user',
        },
      }),
    },
    { op: 'start', id: 'c10' },
    { op: 'wait', id: 'c10' },
  ];
}

// ---- harness --------------------------------------------------------------------------------

const RUN_SCRIPT = `set -e
mkdir -p /run/vfs/runtime ${GUEST_LOWER}
mount -t virtiofs -o ro vfsruntime /run/vfs/runtime
for d in lib lib64; do [ -e /run/vfs/runtime/$d ] && ln -s /run/vfs/runtime/$d /$d; done
mount -t virtiofs -o ro lower0 ${GUEST_LOWER}
/run/vfs/runtime/node /run/vfs/runtime/agent.js --selftest "$VFS_SHARE/scenario.json" >"$VFS_SHARE/results.json"
echo "selftest: node exited at $(cut -d' ' -f1 /proc/uptime)"
`;

interface StepResult {
  readonly op: string;
  readonly id: string;
  readonly exec?: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly value?: any;
  readonly error?: { readonly name: string; readonly code?: string; readonly errno?: string; readonly message: string };
}

interface Results {
  readonly timestamps: { readonly processStartUptimeS: number; readonly readyUptimeS: number };
  readonly results: StepResult[];
}

const pids: number[] = [];
let workDir = '';
let results: Results;
let consoleText = '';

async function startVirtiofsd(source: string, socketPath: string, extra: string[] = []): Promise<void> {
  const child = spawn(VIRTIOFSD, [`--socket-path=${socketPath}`, '-o', `source=${source}`, '-o', 'cache=auto', ...extra], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  if (child.pid === undefined) throw new Error(`cannot start ${VIRTIOFSD}`);
  pids.push(child.pid);
  const since = Date.now();
  while (!existsSync(socketPath)) {
    if (child.exitCode !== null || Date.now() - since > 5000) throw new Error(`${VIRTIOFSD} did not create ${socketPath}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function prepareShares(): { lower: string; rw: string } {
  const lower = join(workDir, 'lower');
  buildBusyboxRootfs(lower, { files: { 'etc/motd': 'original\n', 'etc/deleteme': 'doomed\n' } });
  const rw = join(workDir, 'rw');
  mkdirSync(rw);
  for (const name of OVERLAY_CONTAINERS) {
    mkdirSync(join(rw, name, 'upper'), { recursive: true });
    mkdirSync(join(rw, name, 'work'));
  }
  buildBusyboxRootfs(join(rw, 'bindroot'));
  writeFileSync(join(rw, 'run.sh'), RUN_SCRIPT);
  writeFileSync(join(rw, 'scenario.json'), JSON.stringify({ steps: scenario() }));
  return { lower, rw };
}

async function runGuest(): Promise<void> {
  const { lower, rw } = prepareShares();
  const fs: VhostUserFsDevice[] = [
    { id: 'fs0', socketPath: join(workDir, 'rw.sock'), tag: 'rw' },
    { id: 'fs1', socketPath: join(workDir, 'rt.sock'), tag: 'vfsruntime' },
    { id: 'fs2', socketPath: join(workDir, 'lower.sock'), tag: 'lower0' },
  ];
  await startVirtiofsd(rw, fs[0]!.socketPath, ['-o', 'xattr']);
  await startVirtiofsd(RUNTIME, fs[1]!.socketPath);
  await startVirtiofsd(lower, fs[2]!.socketPath);
  const consoleLogPath = join(workDir, 'console.log');
  const started = performance.now();
  const qemu = await launchQemu({
    args: buildQemuArgs({
      machine: 'microvm',
      accel: 'tcg',
      memoryMiB: 512,
      vcpus: 2,
      kernelPath: KERNEL,
      initrdPath: INITRD,
      kernelArgs: ['vfs.mode=script', 'vfs.tag=rw', 'vfs.script=run.sh'],
      tscKhz: hostTscKhz(),
      fsDevices: fs,
      consoleLogPath,
    }),
    stderrLogPath: join(workDir, 'qemu.stderr'),
  });
  pids.push(qemu.pid);
  await waitForConsole(consoleLogPath, /VFS-SCRIPT-EXIT=\d+/, { timeoutMs: RUN_TIMEOUT_MS, abortOn: qemu.exited, pollMs: 50 });
  process.stdout.write(`agent selftest VM: launch → script exit ${Math.round(performance.now() - started)} ms\n`);
  await qemu.exited;
  consoleText = readFileSync(consoleLogPath, 'utf8');
  const raw = readFileSync(join(rw, 'results.json'), 'utf8');
  if (raw.trim() === '') throw new Error(`agent wrote no results; console:\n${consoleText.slice(-3000)}`);
  results = JSON.parse(raw) as Results;
}

function result(op: string, id: string, exec?: string): StepResult {
  const found = results.results.find((r) => r.op === op && r.id === id && r.exec === exec);
  if (found === undefined) throw new Error(`no result for ${op} ${id} ${exec ?? ''}`);
  return found;
}

function okValue(op: string, id: string, exec?: string): any {
  const r = result(op, id, exec);
  if (!r.ok) throw new Error(`${op} ${id} ${exec ?? ''} failed: ${JSON.stringify(r.error)}`);
  return r.value;
}

function failure(op: string, id: string, exec?: string): NonNullable<StepResult['error']> {
  const r = result(op, id, exec);
  if (r.ok || r.error === undefined) throw new Error(`${op} ${id} ${exec ?? ''} unexpectedly succeeded`);
  return r.error;
}

beforeAll(async () => {
  for (const path of [KERNEL, INITRD, join(RUNTIME, 'node'), join(RUNTIME, 'agent.js'), join(RUNTIME, 'vfs-launcher')]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run \`make guest runtime\` first`);
  }
  workDir = mkdtempSync(join(tmpdir(), 'vfs-agent-'));
  try {
    await runGuest();
  } catch (err) {
    cleanUp();
    throw err;
  }
  const t = results.timestamps;
  const steps = results.results.map((r) => `${r.op} ${r.id}${r.exec ? `/${r.exec}` : ''} ${r.ms} ms`).join(', ');
  process.stdout.write(`agent in guest: node start → ready ${Math.round((t.readyUptimeS - t.processStartUptimeS) * 1000)} ms; steps: ${steps}\n`);
});

function cleanUp(): void {
  for (const pid of pids.splice(0)) killQemuByPid(pid, 'SIGKILL');
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
}

afterAll(cleanUp);

// ---- checks ---------------------------------------------------------------------------------

describe('agent container runtime in a TCG guest', () => {
  it('reports output, separate stderr and exit status 7, as PID 1 with its hostname', () => {
    expect(okValue('wait', 'c1')).toMatchObject({ status: 7, stdout: 'out-1\npid=1\nvfs-test\nout-2\n', stderr: 'err-1\n' });
    expect(okValue('create', 'c1').pid).toBeGreaterThan(1);
    expect(result('delete', 'c1').ok).toBe(true);
  });

  it('writes into the host upper dir; the read-only lower stays untouched; a delete leaves a whiteout', () => {
    const upper = join(workDir, 'rw', 'c1', 'upper');
    expect(readFileSync(join(upper, 'newfile'), 'utf8')).toBe('written\n');
    expect(readFileSync(join(upper, 'etc', 'motd'), 'utf8')).toBe('original\nappended\n');
    expect(readFileSync(join(workDir, 'lower', 'etc', 'motd'), 'utf8')).toBe('original\n');
    expect(existsSync(join(workDir, 'lower', 'newfile'))).toBe(false);
    expect(existsSync(join(workDir, 'lower', 'etc', 'deleteme'))).toBe(true);
    const whiteout = lstatSync(join(upper, 'etc', 'deleteme'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
  });

  it('pipes stdin through cat and delivers EOF', () => {
    expect(okValue('wait', 'c2')).toMatchObject({ status: 0, stdout: 'line-1\nline-2\n\ndone\n', drained: true });
  });

  it('gives a terminal with the spec size, and resizes it', () => {
    const out = okValue('wait', 'c3');
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('tty-yes\r\n30 100\r\n');
    expect(out.stdout).toContain('got-abc\r\n40 120\r\n');
  });

  it('execs into the container namespaces: pid, mount, uts, cgroup; masked and read-only paths', () => {
    const out = okValue('wait', 'c4', 'e1');
    expect(out.status).toBe(0);
    const lines = out.stdout.split('\n');
    expect(lines[0]).toMatch(/^exec-pid=\d+$/);
    expect(lines[0]).not.toBe('exec-pid=1');
    expect(lines[1]).toBe('sleep 1000 ');
    expect(lines[2]).toBe('vfs-test');
    expect(lines[3]).toBe('0::/');
    expect(lines[4]).toBe(String(64 * 1024 * 1024));
    expect(lines[5]).toBe('proc-sys-ro');
    expect(lines[6]).toBe('0');
  });

  it('SIGTERM ends an exec with 143, SIGKILL the init with 137', () => {
    expect(okValue('wait', 'c4', 'e2').status).toBe(143);
    expect(okValue('wait', 'c4').status).toBe(137);
    expect(result('delete', 'c4').ok).toBe(true);
  });

  it('lists pids, pauses and resumes, reports cgroup stats and limits', () => {
    const pidList = okValue('pids', 'c4');
    expect(pidList).toContain(okValue('create', 'c4').pid);
    expect(pidList).toContain(okValue('exec', 'c4', 'e2').pid);
    expect(okValue('status', 'c4')).toBe('paused');
    expect(result('resume', 'c4').ok).toBe(true);
    const stats = okValue('stats', 'c4');
    expect(stats.memory.currentBytes).toBeGreaterThan(0);
    expect(stats.memory.maxBytes).toBe(64 * 1024 * 1024);
    expect(stats.pids).toEqual({ current: 1, max: 50 });
    expect(stats.cpu.usageUsec).toBeGreaterThan(0);
  });

  it('execs with a terminal', () => {
    const out = okValue('wait', 'c4', 'e4');
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('11 22\r\n');
  });

  it('rejects a malformed spec with the JSON path, and a missing binary with ENOENT', () => {
    expect(failure('create', 'c5')).toMatchObject({ name: 'SpecError', message: expect.stringContaining('$.process.args') });
    expect(failure('exec', 'c4', 'e3')).toMatchObject({ code: 'LAUNCH_FAILED', errno: 'ENOENT', message: expect.stringContaining('exec /nonexistent') });
    expect(failure('start', 'c6')).toMatchObject({ code: 'LAUNCH_FAILED', errno: 'ENOENT', message: expect.stringContaining('container c6') });
    expect(okValue('wait', 'c6').status).toBe(127);
    expect(failure('start', 'nope')).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('container nope') });
    expect(okValue('wait', 'c7')).toMatchObject({ status: 0, stdout: 'still-alive\n' });
  });

  it('runs on a bind rootfs and honours a read-only root', () => {
    expect(okValue('wait', 'c8')).toMatchObject({ status: 0, stdout: 'bind-ok\n' });
    expect(readFileSync(join(workDir, 'rw', 'bindroot', 'bindfile'), 'utf8')).toBe('bind-ok\n');
    const ro = okValue('wait', 'c9');
    expect(ro.stdout).toBe('ro-refused\n');
    expect(ro.stderr).toContain('Read-only file system');
  });

  it('applies user, groups, capabilities, no_new_privs, rlimits, cwd and HOME', () => {
    const out = okValue('wait', 'c10');
    expect(out.status).toBe(0);
    expect(out.stdout).toBe(
      ['1000', '1000 2000', 'CapEff:\t0000000000000400', 'CapBnd:\t0000000000000400', 'CapAmb:\t0000000000000400', 'NoNewPrivs:\t1', '256', '/home/user', 'home=/home/user', ''].join('\n'),
    );
  });

  it('starts the agent (node start → ready) within the TCG budget', () => {
    const t = results.timestamps;
    expect(t.readyUptimeS - t.processStartUptimeS).toBeLessThan(5);
    expect(consoleText).toContain('VFS-SCRIPT-EXIT=0');
  });
});
