// A private Docker for e2e tests: Debian trixie's docker.io (Docker 26: `--runtime
// io.containerd.vfs.v2` names a shim v2 runtime directly, which bookworm's Docker 20.10 cannot),
// fetched and unpacked under build/e2e/ by scripts/trixie-deb.sh (a private apt state: the
// system's is untouched). Its dockerd links only libraries bookworm has (libc, libsystemd) and runs
// against a PrivateContainerd of its own, whose PATH has build/bin first, so containerd finds
// containerd-shim-vfs-v2; runc is the system's.
//
// dockerd gets its own data-root, exec-root, pidfile, config file and socket, and nothing
// system-wide: no iptables rules, no bridge (unless given one: docker_bridge.ts), no ip_forward
// sysctl, no proxy processes, containers' cgroups under a parent named after its dir. The offline busybox image is loaded as DOCKER_BUSYBOX.
// stop() removes the containers through dockerd, stops it and the containerd by PID, kills what is
// left in its cgroups, removes them, unmounts everything under its dir and removes the dir — also
// after a failure. One system path is hard-coded in Docker 26: the plugin exec root
// /run/docker/plugins, left empty; it is removed again when this dockerd created it.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdtempSync,
  openSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { fileTailOrError } from '@vfs/shim/vm';
import { mountsUnder, PrivateContainerd } from './containerd';
import { dockerLoadableImage } from './docker_image';
import { cgroupDirsUnder, pidsInCgroups, removeCgroupDirs } from './host_leftovers';
import { buildBusyboxImage } from './oci_image';
import { pidAlive, waitFor } from './process';
import { REPO_ROOT } from './repo';

const BUILD_BIN = join(REPO_ROOT, 'build', 'bin');
const DOCKER_IO_DIR = join(REPO_ROOT, 'build', 'e2e', 'docker.io');
const TRIXIE_DEB = join(REPO_ROOT, 'scripts', 'trixie-deb.sh');
/** The first Docker that takes a shim v2 runtime by name (`--runtime io.containerd.vfs.v2`). */
const MIN_DOCKER_MAJOR = 23;
const RUN_DOCKER = '/run/docker';
/** Docker 26's plugin exec root, hard-coded (daemon/daemon_unix.go getPluginExecRoot). */
const PLUGIN_EXEC_ROOT = `${RUN_DOCKER}/plugins`;
const READY_TIMEOUT_MS = 30_000;
/** dockerd stops what still runs with its own 15 s --shutdown-timeout first. */
const STOP_TIMEOUT_MS = 30_000;

export interface PrivateDockerOptions {
  /** An existing bridge for the default network (DockerBridge.name); default none, so `--network none` only. */
  readonly bridge?: string;
}

/** The offline busybox image (oci_image.ts), as every PrivateDocker has it loaded. */
export const DOCKER_BUSYBOX = 'busybox:vfs';

export interface DockerBinaries {
  readonly dockerd: string;
  /** `dockerd --version`, e.g. "Docker version 26.1.5+dfsg1, build 411e817". */
  readonly version: string;
}

/** Debian trixie's dockerd, unpacked under build/e2e/ (cached); throws when unreachable or older than 23. */
export function trixieDockerd(): DockerBinaries {
  const dockerd = join(DOCKER_IO_DIR, 'usr', 'sbin', 'dockerd');
  if (!existsSync(dockerd)) fetchDockerIo();
  const version = execFileSync(dockerd, ['--version'], { encoding: 'utf8' }).trim();
  const major = Number(/^Docker version (\d+)\./.exec(version)?.[1]);
  if (!(major >= MIN_DOCKER_MAJOR))
    throw new Error(
      `${dockerd} is "${version}": runtimes named by their shim need Docker ${MIN_DOCKER_MAJOR} or newer`,
    );
  return { dockerd, version };
}

function fetchDockerIo(): void {
  const deb = execFileSync('bash', [TRIXIE_DEB, 'docker.io', DOCKER_IO_DIR], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
  if (!deb.startsWith('docker.io_')) {
    rmSync(DOCKER_IO_DIR, { recursive: true, force: true });
    throw new Error(`scripts/trixie-deb.sh docker.io unpacked ${deb}`);
  }
}

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Removes an empty directory this run created; another dockerd may be using it, then it stays. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EBUSY') throw err;
  }
}

export class PrivateDocker {
  readonly socketPath: string;
  readonly client: Docker;
  /** dockerd's --cgroup-parent: where runc puts containers, in every hierarchy; removed at stop. */
  readonly cgroupParent: string;
  private child: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly containerd: PrivateContainerd,
    /** Whether /run/docker was absent before this dockerd, so that stop() removes what it made there. */
    private readonly madeRunDocker: boolean,
  ) {
    this.socketPath = join(dir, 'docker.sock');
    this.client = new Docker({ socketPath: this.socketPath });
    this.cgroupParent = `/${basename(dir)}`;
  }

  static async start(options: PrivateDockerOptions = {}): Promise<PrivateDocker> {
    const binaries = trixieDockerd();
    const containerd = await PrivateContainerd.start();
    const docker = new PrivateDocker(mkdtempSync('/tmp/vfs-docker-'), containerd, !existsSync(RUN_DOCKER));
    try {
      await docker.launch(binaries, options);
      await docker.loadBusybox();
      return docker;
    } catch (err) {
      await docker
        .stop()
        .catch((stopErr: unknown) => console.error(`PrivateDocker: cleanup after a failed start: ${String(stopErr)}`));
      throw err;
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get logPath(): string {
    return join(this.dir, 'dockerd.log');
  }

  logTail(lines = 40): string {
    return fileTailOrError(this.logPath, lines) || '(no log)';
  }

  private async launch(binaries: DockerBinaries, options: PrivateDockerOptions): Promise<void> {
    const configFile = join(this.dir, 'daemon.json');
    writeFileSync(configFile, '{}\n');
    const own = {
      'config-file': configFile,
      'data-root': join(this.dir, 'data'),
      'exec-root': join(this.dir, 'exec'),
      pidfile: join(this.dir, 'dockerd.pid'),
      host: `unix://${this.socketPath}`,
      containerd: this.containerd.grpcAddress,
      'cgroup-parent': this.cgroupParent,
      'log-level': 'debug',
    };
    // Nothing system-wide: no iptables rules, no bridge of its own, no ip_forward sysctl, no proxy processes.
    const isolation = [
      '--iptables=false',
      '--ip6tables=false',
      `--bridge=${options.bridge ?? 'none'}`,
      '--ip-forward=false',
      '--ip-masq=false',
      '--userland-proxy=false',
    ];
    const args = [...Object.entries(own).map(([flag, value]) => `--${flag}=${value}`), ...isolation];
    const log = openSync(this.logPath, 'a');
    this.child = spawn(binaries.dockerd, args, {
      stdio: ['ignore', log, log],
      env: { ...process.env, PATH: `${BUILD_BIN}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` },
    });
    closeSync(log);
    const child = this.child;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!(await this.answers())) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`dockerd exited (${child.exitCode ?? child.signalCode}):\n${this.logTail()}`);
      if (Date.now() > deadline)
        throw new Error(`dockerd did not answer within ${READY_TIMEOUT_MS / 1000} s:\n${this.logTail()}`);
      await sleep(100);
    }
  }

  private async answers(): Promise<boolean> {
    try {
      await this.client.ping();
      return true;
    } catch {
      return false;
    }
  }

  private async loadBusybox(): Promise<void> {
    const images = join(this.dir, 'images');
    const ociTar = buildBusyboxImage(images, `docker.io/library/${DOCKER_BUSYBOX}`);
    await this.loadImage(dockerLoadableImage(ociTar, DOCKER_BUSYBOX, join(images, 'busybox.docker.tar')));
  }

  /** `docker load` of an archive in docker-save format (see docker_image.ts). */
  async loadImage(tar: string): Promise<void> {
    const progress = await this.client.loadImage(createReadStream(tar), { quiet: true });
    let text = '';
    for await (const chunk of progress) text += chunk.toString();
    for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
      const message = JSON.parse(line) as { error?: string };
      if (message.error !== undefined) throw new Error(`docker load ${tar}: ${message.error}`);
    }
  }

  /**
   * Everything, by PID: the containers through dockerd (VMs go down through their shims), dockerd,
   * the containerd with its shims, what is left in the containers' cgroups; then those cgroups,
   * the mounts under the dir, the dir, and /run/docker when this dockerd made it.
   */
  async stop(): Promise<void> {
    const problems: string[] = [];
    await this.removeContainers().catch((err: unknown) => problems.push(`removing containers: ${String(err)}`));
    await this.stopDaemon();
    await this.containerd.stop().catch((err: unknown) => problems.push(`stopping containerd: ${String(err)}`));
    const cgroups = cgroupDirsUnder(this.cgroupParent);
    const leftovers = pidsInCgroups(cgroups).filter(pidAlive);
    for (const pid of leftovers) killIfAlive(pid);
    await waitFor(
      "processes left in the containers' cgroups to die",
      () => leftovers.every((pid) => !pidAlive(pid)),
      5000,
    ).catch((err: unknown) => problems.push(String(err)));
    problems.push(...removeCgroupDirs(cgroups).map((dir) => `cgroup not removed: ${dir}`));
    for (const target of mountsUnder(this.dir)) execFileSync('umount', ['--lazy', target]);
    rmSync(this.dir, { recursive: true, force: true });
    if (this.madeRunDocker) {
      removeIfEmpty(PLUGIN_EXEC_ROOT);
      removeIfEmpty(RUN_DOCKER);
    }
    if (problems.length > 0) throw new Error(`PrivateDocker.stop: ${problems.join('; ')}`);
  }

  private async removeContainers(): Promise<void> {
    if (!this.running()) return;
    const containers = await this.client.listContainers({ all: true });
    await Promise.all(containers.map((c) => this.client.getContainer(c.Id).remove({ force: true })));
  }

  private running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  private async stopDaemon(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}
