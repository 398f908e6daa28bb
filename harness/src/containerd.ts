// A private containerd for e2e tests: its own config (runtime-config/containerd-config.toml, or
// containerd-config-v3.toml for containerd 2.x, rendered into a temp dir), root, state, gRPC and ttrpc sockets, and VFS_RUN_DIR for the shims it
// starts; PATH has build/bin (or the test shim's directory) first, so runtime io.containerd.vfs.v2
// resolves to our shim. It is
// stopped by PID, and every process the shims recorded (shims, test-double processes) is killed
// by PID, every mount under the temp dir unmounted, and the dir removed — also after a failure.
//
// With `cri`, containerd's CRI plugin serves on the same socket (CriClient), with the runtime
// handlers `runc` (the reference) and `vfs`, the offline pause image as sandbox image, and every
// path it would write kept under the temp dir (CNI dirs, empty: host-network pods only, unless
// `cni` names a CniNetwork's: then pods get an address on its bridge). Pods are
// placed under their own cgroup (podCgroupParent); teardown also kills, by PID, the shims that
// name this containerd's address and the processes left in those cgroups, removes the cgroups,
// and the sockets those shims left in /run/containerd/s.
//
// containerd 1.7 (for the gRPC path) is Debian trixie's package and containerd 2.x forky's (testing),
// fetched and unpacked under build/e2e/ by scripts/debian-deb.sh (a private apt state: the system's
// is untouched).

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  closeSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseContainerdVersion, type PidRecord, SandboxState } from '@vfs/shim';
import { fileTailOrError } from '@vfs/shim/vm';
import type { CniDirs } from './cni_network';
import {
  cgroupDirsUnder,
  pidsInCgroups,
  pidsMentioning,
  removeCgroupDirs,
  removeEmptyNamespaceCgroups,
  shimPidsServing,
  shimSocketFilesOf,
} from './host_leftovers';
import { buildPauseImage, PAUSE_IMAGE } from './pause_image';
import { REPO_ROOT } from './repo';
import { pidAlive, stillRunning } from './process';

const BUILD_BIN = join(REPO_ROOT, 'build', 'bin');
const CONFIG_TEMPLATE = join(REPO_ROOT, 'runtime-config', 'containerd-config.toml');
const CONFIG_V3_TEMPLATE = join(REPO_ROOT, 'runtime-config', 'containerd-config-v3.toml');
// The CRI snippets users add to their containerd config: the tests run them as shipped, but for
// the configuration's path.
const CRI_SNIPPET = join(REPO_ROOT, 'runtime-config', 'cri-runtime.toml');
const CRI_SNIPPET_V3 = join(REPO_ROOT, 'runtime-config', 'cri-runtime-v3.toml');
const SNIPPET_CONFIG_PATH = /^(\s*)ConfigPath = "\/etc\/vfs\/configuration\.toml"$/m;
const VFS_OPTIONS_TABLE = 'containerd.runtimes.vfs.options';
const CRI_RUNTIME_PLUGIN = { v2: 'plugins."io.containerd.grpc.v1.cri"', v3: 'plugins."io.containerd.cri.v1.runtime"' };
const DEBIAN_DEB = join(REPO_ROOT, 'scripts', 'debian-deb.sh');

export interface ContainerdBinaries {
  readonly containerd: string;
  readonly ctr: string;
  readonly version: string;
}

/** Debian's containerd 1.6 and ctr; its version is asked as containerd17()'s and containerd2()'s are. */
export const SYSTEM_CONTAINERD: ContainerdBinaries = {
  containerd: '/usr/bin/containerd',
  ctr: '/usr/bin/ctr',
  get version(): string {
    return execFileSync('/usr/bin/containerd', ['--version'], { encoding: 'utf8' }).trim();
  },
};

export interface ContainerdOptions {
  readonly binaries?: ContainerdBinaries;
  /** The CRI plugin on, handlers `runc` and `vfs`, PAUSE_IMAGE imported into namespace k8s.io. */
  readonly cri?: boolean;
  /** Extra environment for containerd, and so for the shims it starts. */
  readonly env?: Readonly<Record<string, string>>;
  /** vfs configuration the CRI runtime options name (ConfigPath). */
  readonly vfsConfigPath?: string;
  /**
   * vfs configuration tables written into the CRI runtime's options table, which containerd 1.7
   * and 2.x send the shim as config_body when it has no ConfigPath (so not with vfsConfigPath).
   */
  readonly vfsOptions?: Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>;
  /** Where containerd finds containerd-shim-vfs-v2, first on its PATH (default build/bin). */
  readonly shimDir?: string;
  /** CNI dirs for CRI (CniNetwork.dirs): pods get a network; default empty dirs, host network only. */
  readonly cni?: CniDirs;
}

export interface CtrResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CtrOptions {
  readonly namespace?: string;
  readonly timeoutMs?: number;
}

function render(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/@([A-Z_]+)@/g, (whole, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`containerd config template: no value for ${whole}`);
    return value;
  });
}

/** `containerd --version` → [major, minor], by the shim's own parser. */
function releaseOf(version: string): [number, number] {
  const release = parseContainerdVersion(version);
  if (release === undefined) throw new Error(`no containerd version in ${JSON.stringify(version)}`);
  return release;
}

/** A CRI snippet's text with the test's ConfigPath in place of the one it ships with. */
function criSnippet(path: string, configPath: string): string {
  const text = readFileSync(path, 'utf8');
  if (!SNIPPET_CONFIG_PATH.test(text)) throw new Error(`${path}: no ConfigPath = "/etc/vfs/configuration.toml" line`);
  return text.replace(
    SNIPPET_CONFIG_PATH,
    (_line, indent: string) => `${indent}ConfigPath = ${JSON.stringify(configPath)}`,
  );
}

/** The vfs runtime's options sub-tables, appended to the rendered config (TOML allows them last). */
function vfsOptionsToml(plugin: string, tables: NonNullable<ContainerdOptions['vfsOptions']>): string {
  return Object.entries(tables)
    .map(
      ([table, entries]) =>
        `\n[${plugin}.${VFS_OPTIONS_TABLE}.${table}]\n${Object.entries(entries)
          .map(([key, value]) => `  ${key} = ${JSON.stringify(value)}\n`)
          .join('')}`,
    )
    .join('');
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(pidAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(20);
    alive = alive.filter(pidAlive);
  }
  return alive;
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((target): target is string => target !== undefined && (target === dir || target.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

export class PrivateContainerd {
  readonly grpcAddress: string;
  readonly ttrpcAddress: string;
  /** VFS_RUN_DIR of the shims. */
  readonly runDir: string;
  /** The cgroup (in every hierarchy) that podCgroupParent puts pods under; removed at stop. */
  readonly podCgroupRoot: string;
  private child: ChildProcess | undefined;
  /** Namespaces ctr was run in: runc's /<namespace> cgroups go at stop. */
  private readonly namespaces = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly binaries: ContainerdBinaries,
  ) {
    this.grpcAddress = join(dir, 'c.sock');
    this.ttrpcAddress = join(dir, 'c.sock.ttrpc');
    this.runDir = join(dir, 'vfs');
    this.podCgroupRoot = `/${basename(dir)}`;
  }

  static async start(options: ContainerdOptions = {}): Promise<PrivateContainerd> {
    const dir = mkdtempSync('/tmp/vfs-e2e-');
    const containerd = new PrivateContainerd(dir, options.binaries ?? SYSTEM_CONTAINERD);
    try {
      await containerd.launch(options);
      if (options.cri === true) await containerd.importPauseImage();
      return containerd;
    } catch (err) {
      await containerd.stop();
      throw err;
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get logPath(): string {
    return join(this.dir, 'containerd.log');
  }

  /** A pod's PodSandboxConfig.linux.cgroupParent, as kubelet's cgroupfs driver makes one (…/pod<uid>). */
  podCgroupParent(podUid: string): string {
    return `${this.podCgroupRoot}/pod${podUid}`;
  }

  private async launch(options: ContainerdOptions): Promise<void> {
    const [major, minor] = releaseOf(this.binaries.version);
    const v3 = major >= 2;
    if (options.vfsOptions !== undefined && ((options.vfsConfigPath ?? '') !== '' || (major === 1 && minor < 7)))
      throw new Error(
        'vfsOptions reach the shim only from containerd 1.7 on and without vfsConfigPath (as config_body)',
      );
    const cri = v3 ? ['io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.runtime'] : ['io.containerd.grpc.v1.cri'];
    const disabled = [
      'io.containerd.internal.v1.tracing',
      'io.containerd.tracing.processor.v1.otlp',
      ...(options.cri === true ? [] : cri),
    ];
    const template = readFileSync(v3 ? CONFIG_V3_TEMPLATE : CONFIG_TEMPLATE, 'utf8');
    const snippet = criSnippet(v3 ? CRI_SNIPPET_V3 : CRI_SNIPPET, options.vfsConfigPath ?? '');
    const config = render(template, {
      ROOT: join(this.dir, 'root'),
      STATE: join(this.dir, 'state'),
      GRPC_ADDRESS: this.grpcAddress,
      TTRPC_ADDRESS: this.ttrpcAddress,
      LOG_LEVEL: 'debug',
      DISABLED_PLUGINS: disabled.map((p) => JSON.stringify(p)).join(', '),
      OPT_DIR: join(this.dir, 'opt'),
      SANDBOX_IMAGE: PAUSE_IMAGE,
      CNI_BIN_DIR: options.cni?.binDir ?? join(this.dir, 'cni', 'bin'),
      CNI_CONF_DIR: options.cni?.confDir ?? join(this.dir, 'cni', 'net.d'),
      RUNC_ROOT: join(this.dir, 'runc'),
    }).concat('\n', snippet, vfsOptionsToml(CRI_RUNTIME_PLUGIN[v3 ? 'v3' : 'v2'], options.vfsOptions ?? {}));
    const configPath = join(this.dir, 'containerd.toml');
    writeFileSync(configPath, config);
    mkdirSync(this.runDir, { recursive: true });
    for (const cniDir of ['bin', 'net.d']) mkdirSync(join(this.dir, 'cni', cniDir), { recursive: true });
    const log = openSync(this.logPath, 'a');
    this.child = spawn(this.binaries.containerd, ['--config', configPath], {
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        PATH: `${options.shimDir ?? BUILD_BIN}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
        VFS_RUN_DIR: this.runDir,
        ...options.env,
      },
    });
    closeSync(log);
    const deadline = Date.now() + 20_000;
    while (!(await socketAnswers(this.grpcAddress))) {
      if (this.child.exitCode !== null)
        throw new Error(`containerd exited (${this.child.exitCode}):\n${this.logTail()}`);
      if (Date.now() > deadline) throw new Error(`containerd did not listen within 20 s:\n${this.logTail()}`);
      await sleep(50);
    }
  }

  private async importPauseImage(): Promise<void> {
    const image = buildPauseImage(join(this.dir, 'images'));
    const result = await this.ctr(['images', 'import', image], { namespace: 'k8s.io' });
    if (result.code !== 0) throw new Error(`ctr images import ${image} failed (${result.code}): ${result.stderr}`);
  }

  logTail(lines = 40): string {
    return fileTailOrError(this.logPath, lines) || '(no log)';
  }

  ctr(args: readonly string[], options: CtrOptions = {}): Promise<CtrResult> {
    const namespace = options.namespace ?? 'vfs-e2e';
    this.namespaces.add(namespace);
    const argv = ['--address', this.grpcAddress, '--namespace', namespace, ...args];
    return new Promise((resolvePromise) => {
      execFile(
        this.binaries.ctr,
        argv,
        { timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
          resolvePromise({ code, stdout, stderr });
        },
      );
    });
  }

  /** Stops containerd like a crash or an upgrade would (SIGKILL unless `graceful`), keeping its dirs. */
  async stopDaemon(graceful: boolean): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Starts containerd again on the same dirs and sockets (after stopDaemon). */
  async restart(options: ContainerdOptions = {}): Promise<void> {
    await this.launch(options);
  }

  /** The processes the shims recorded (shims, QEMU, daemons, test-double processes) under VFS_RUN_DIR. */
  recordedProcesses(): PidRecord[] {
    const sandboxes = join(this.runDir, 'sandboxes');
    if (!existsSync(sandboxes)) return [];
    return readdirSync(sandboxes).flatMap((namespace) =>
      readdirSync(join(sandboxes, namespace)).flatMap((sandbox) =>
        new SandboxState(join(sandboxes, namespace, sandbox)).pids(),
      ),
    );
  }

  /** Pids of recorded processes still running; a recorded pid recycled since is someone else's. */
  recordedStillRunning(): number[] {
    return this.recordedProcesses()
      .filter(stillRunning)
      .map((p) => p.pid);
  }

  /**
   * Everything, by PID: containerd, recorded shim processes (by pid and start time), shims naming this containerd, processes
   * in pod cgroups; then the pod cgroups and runc's namespace cgroups, the shims' sockets in
   * /run/containerd/s, mounts under the dir, the dir.
   */
  async stop(): Promise<void> {
    await this.stopDaemon(true);
    const shims = shimPidsServing(this.grpcAddress);
    const shimSockets = shims.flatMap(shimSocketFilesOf);
    const cgroups = cgroupDirsUnder(this.podCgroupRoot);
    const leftovers = [
      ...new Set([...this.recordedStillRunning(), ...shims, ...pidsInCgroups(cgroups), ...pidsMentioning(this.dir)]),
    ].filter(pidAlive);
    for (const pid of leftovers) killIfAlive(pid);
    const stuck = await waitGone(leftovers, 5000);
    const stuckCgroups = removeCgroupDirs(cgroups);
    removeEmptyNamespaceCgroups(this.namespaces);
    for (const socket of shimSockets) rmSync(socket, { force: true });
    for (const target of mountsUnder(this.dir)) execFileSync('umount', ['--lazy', target]);
    rmSync(this.dir, { recursive: true, force: true });
    if (stuck.length > 0) throw new Error(`processes survived SIGKILL: ${stuck.join(', ')}`);
    if (stuckCgroups.length > 0) throw new Error(`pod cgroups could not be removed: ${stuckCgroups.join(', ')}`);
  }
}

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** A containerd release from a Debian suite, unpacked under build/e2e/containerd-<release>. */
interface DebianContainerd {
  readonly release: string;
  readonly suite: string;
}

const CONTAINERD_17: DebianContainerd = { release: '1.7', suite: 'trixie' };
// Debian testing: containerd 2.1 since 2025; any 2.x is taken.
const CONTAINERD_2: DebianContainerd = { release: '2', suite: 'forky' };

/** Debian trixie's containerd 1.7, unpacked under build/e2e/ (cached); throws when unreachable. */
export function containerd17(): ContainerdBinaries {
  return debianContainerd(CONTAINERD_17);
}

/** Debian forky's containerd 2.x, unpacked under build/e2e/ (cached); throws when unreachable. */
export function containerd2(): ContainerdBinaries {
  return debianContainerd(CONTAINERD_2);
}

function debianContainerd(wanted: DebianContainerd): ContainerdBinaries {
  const dir = join(REPO_ROOT, 'build', 'e2e', `containerd-${wanted.release}`);
  const containerd = join(dir, 'usr', 'bin', 'containerd');
  const ctr = join(dir, 'usr', 'bin', 'ctr');
  if (!existsSync(containerd)) fetchContainerd(wanted, dir);
  const version = execFileSync(containerd, ['--version'], { encoding: 'utf8' }).trim();
  return { containerd, ctr, version };
}

function fetchContainerd(wanted: DebianContainerd, dir: string): void {
  const output = execFileSync('bash', [DEBIAN_DEB, wanted.suite, 'containerd', dir], {
    encoding: 'utf8',
    stdio: 'pipe',
  });
  const deb = output.trim();
  if (!deb.startsWith(`containerd_${wanted.release}.`)) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${wanted.suite}'s containerd is not ${wanted.release}: ${deb}`);
  }
}
