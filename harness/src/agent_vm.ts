// One guest VM running the real vfs agent, for e2e tests and `make guest-smoke`: OUR virtio-fs
// daemon (build/bin/vfs-virtiofsd, multi-export mode) serves build/runtime (hard-linked into
// the daemon's shared dir) and the caller's shares; QEMU boots build/guest in agent mode; the
// agent is reached over QEMU's agent chardev socket with our ttrpc client. Everything started is
// tracked by PID and stopped by `stop()`, which also removes the work dir, even after a failure.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AGENT_PORT_CLOSED,
  bootArgs,
  ControlClient,
  DEFAULT_RUNTIME_TAG,
  errorMessage,
  INIT_MARKERS,
} from '@vfs/contracts';
import type { CacheMode } from '@vfs/contracts';
import { AgentServiceDefinition, CheckResponse_ServingStatus } from '@vfs/proto/gen/agent/agent';
import { TtrpcClient, type ServiceClient, type TtrpcLogger } from '@vfs/proto/ttrpc';
import { firstCheckAnswer } from '@vfs/shim';
import { describeExit, readConsole, waitForConsole } from '@vfs/shim/vm';
import type { VhostUserFsDevice } from '@vfs/shim/vm';
import type { RunningQemu } from '@vfs/shim/vm';
import { waitFor } from './process';
import { REPO_ROOT } from './repo';
import { DAEMON } from './standalone_daemon';
import { BOOT_TIMEOUT_MS, GuestVms, requireGuestImage, vmConfig, withDeadline } from './guest_vm';

export const RUNTIME = join(REPO_ROOT, 'build', 'runtime');
const DAEMON_STOP_GRACE_MS = 2000;
/**
 * After a reconnect the agent closes and reopens its port, and the guest kernel drops what a host
 * sends into a port being closed: Check is sent again until one is answered, by the shim's own
 * firstCheckAnswer, which it uses when it adopts a pooled VM.
 */
const RECHECK_EVERY_MS = 200;
/**
 * How old a connection must be for the agent to log its close (AGENT_PORT_CLOSED): its threshold
 * is 100 ms from its port's open, which comes before our dial returns.
 */
const AGENT_CONNECTION_NOTED_MS = 150;

export type AgentClient = ServiceClient<typeof AgentServiceDefinition>;

export interface ShareExport {
  readonly tag: string;
  /** Directory under the VM's shared root (`AgentVm.sharedRoot`). */
  readonly dir: string;
  readonly readonly: boolean;
  readonly xattr?: boolean;
  readonly cache?: CacheMode;
}

export interface AgentVmOptions {
  /** Fills the shared root (sharedRoot) before the daemon starts. */
  readonly prepare: (sharedRoot: string) => void;
  readonly exports: readonly ShareExport[];
  readonly memoryMiB?: number;
  readonly vcpus?: number;
}

export interface BootTimings {
  /** QEMU launch → `vfs-init: start` on the console. */
  readonly bootToInitMs: number;
  /** QEMU launch → the agent answered Check. */
  readonly agentReadyMs: number;
}

/** Test logs: ttrpc warnings and errors on stderr, debug dropped. */
const quietLogger: TtrpcLogger = {
  debug: () => undefined,
  warn: (fields, message) => process.stderr.write(`ttrpc warn: ${message} ${JSON.stringify(fields)}\n`),
  error: (fields, message) => process.stderr.write(`ttrpc error: ${message} ${JSON.stringify(fields)}\n`),
};

function requireBuilt(): void {
  requireGuestImage();
  for (const path of [
    DAEMON,
    join(RUNTIME, 'node'),
    join(RUNTIME, 'agent.js'),
    join(RUNTIME, 'agent.blob'),
    join(RUNTIME, 'vfs-launcher'),
  ]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run \`make build runtime\` first`);
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export class AgentVm {
  readonly workDir = mkdtempSync(join(tmpdir(), 'vfs-agent-vm-'));
  readonly sharedRoot = join(this.workDir, 'shares');
  readonly agentSocket = join(this.workDir, 'agent.sock');
  readonly consoleLog = join(this.workDir, 'console.log');
  private readonly vms = new GuestVms();
  private daemon: { pid: number; exited: Promise<void> } | undefined;
  private control: ControlClient | undefined;
  private qemu: RunningQemu | undefined;
  private connection: TtrpcClient | undefined;
  /** When `connection` answered its first Check (performance.now()). */
  private connectedAt = 0;
  private launchedAt = 0;

  private constructor() {}

  /** Boots the VM and waits for the agent's Check; on failure everything started is stopped. */
  static async start(options: AgentVmOptions): Promise<{ vm: AgentVm; timings: BootTimings }> {
    requireBuilt();
    const vm = new AgentVm();
    try {
      const timings = await vm.boot(options);
      return { vm, timings };
    } catch (err) {
      const console = readConsole(vm.consoleLog).slice(-3000);
      await vm.stop();
      throw new Error(`${errorMessage(err)}\nconsole tail:\n${console}`);
    }
  }

  get agent(): AgentClient {
    if (this.connection === undefined) throw new Error('the agent is not connected');
    return this.connection.service(AgentServiceDefinition);
  }

  /** ms since QEMU was launched. */
  sinceLaunch(): number {
    return performance.now() - this.launchedAt;
  }

  console(): string {
    return readConsole(this.consoleLog);
  }

  /**
   * Drops the host side of the agent channel and dials again (what a restarted shim does), once
   * the agent has closed its old port. A host back sooner may have its calls answered on the old
   * port, which the agent closes when it learns of the disconnect (the guest takes the port's
   * control messages on another virtqueue than its data, so that can come after a new host's
   * first call): virtio_console discards unread input on close, and a later call would hang. A
   * restarted shim takes far longer than the agent to come back. The agent says so only after a
   * connection that lasted 0.1 s (serve_port.ts): a younger one is kept that long first.
   */
  async reconnect(): Promise<void> {
    await sleep(Math.max(0, this.connectedAt + AGENT_CONNECTION_NOTED_MS - performance.now()));
    const closed = this.portCloses();
    this.connection?.close();
    this.connection = undefined;
    const gone = (this.qemu as RunningQemu).exited.then((exit) => {
      throw new Error(`${describeExit(exit)} before the agent closed its port`);
    });
    await Promise.race([
      waitFor('the agent closing its port', () => this.portCloses() > closed, BOOT_TIMEOUT_MS),
      gone,
    ]);
    this.connection = await this.dial(BOOT_TIMEOUT_MS, RECHECK_EVERY_MS);
  }

  /** How often the console says the agent closed its port after a host left. */
  private portCloses(): number {
    return this.console().split(AGENT_PORT_CLOSED).length - 1;
  }

  async stop(): Promise<void> {
    this.connection?.close();
    this.control?.close();
    this.vms.killAll();
    await this.stopDaemon();
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private async boot(options: AgentVmOptions): Promise<BootTimings> {
    mkdirSync(this.sharedRoot);
    const link = spawnSync('cp', ['-al', RUNTIME, join(this.sharedRoot, 'runtime')], { encoding: 'utf8' });
    if (link.status !== 0) throw new Error(`cannot link ${RUNTIME} into the shared dir: ${link.stderr}`);
    options.prepare(this.sharedRoot);
    await this.startDaemon();
    const devices = await this.exportAll([
      { tag: DEFAULT_RUNTIME_TAG, dir: 'runtime', readonly: true, cache: 'always' },
      ...options.exports,
    ]);
    const config = vmConfig(
      this.workDir,
      'microvm',
      bootArgs({ mode: 'agent', runtimeTag: DEFAULT_RUNTIME_TAG }),
      devices,
    );
    this.launchedAt = performance.now();
    this.qemu = await this.vms.start(this.workDir, {
      ...config,
      memoryMiB: options.memoryMiB ?? 512,
      vcpus: options.vcpus ?? 2,
      agentSocketPath: this.agentSocket,
    });
    const initMarker = waitForConsole(this.consoleLog, INIT_MARKERS.start, {
      timeoutMs: BOOT_TIMEOUT_MS,
      abortOn: this.qemu.exited,
      pollMs: 5,
    }).then(() => this.sinceLaunch());
    this.connection = await this.dial(BOOT_TIMEOUT_MS);
    const agentReadyMs = this.sinceLaunch();
    return { bootToInitMs: await initMarker, agentReadyMs };
  }

  private async startDaemon(): Promise<void> {
    const controlSocket = join(this.workDir, 'daemon.ctl');
    const stderr = openSync(join(this.workDir, 'daemon.log'), 'a');
    const child = spawn(DAEMON, [`--control-socket=${controlSocket}`, `--shared-dir=${this.sharedRoot}`], {
      stdio: ['ignore', 'ignore', stderr],
    });
    closeSync(stderr);
    if (child.pid === undefined) throw new Error(`cannot start ${DAEMON}`);
    this.daemon = { pid: child.pid, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
    this.control = await withDeadline(
      (async () => {
        while (!existsSync(controlSocket)) await sleep(10);
        return ControlClient.connect(controlSocket);
      })(),
      10_000,
      'the daemon control socket did not appear',
    );
  }

  private async exportAll(shares: readonly ShareExport[]): Promise<VhostUserFsDevice[]> {
    const control = this.control as ControlClient;
    const devices: VhostUserFsDevice[] = [];
    for (const [i, share] of shares.entries()) {
      const socket = join(this.workDir, `fs${i}.sock`);
      await control.add({
        tag: share.tag,
        socket,
        dir: share.dir,
        readonly: share.readonly,
        cache: share.cache ?? 'auto',
        xattr: share.xattr ?? false,
        announceSubmounts: false,
      });
      devices.push({ id: `fs${i}`, socketPath: socket, tag: share.tag });
    }
    return devices;
  }

  /** Connects as soon as QEMU's socket exists; the agent answers Check once it serves. */
  private async dial(timeoutMs: number, recheckEveryMs = Number.POSITIVE_INFINITY): Promise<TtrpcClient> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(this.agentSocket)) {
      if (Date.now() > deadline) throw new Error(`QEMU did not create ${this.agentSocket}`);
      await sleep(10);
    }
    const client = await TtrpcClient.connect(this.agentSocket, { logger: quietLogger });
    const exited = (this.qemu as RunningQemu).exited.then((exit) => {
      throw new Error(`${describeExit(exit)} before the agent answered`);
    });
    try {
      const check = firstCheckAnswer(client.service(AgentServiceDefinition), deadline, recheckEveryMs);
      const answer = await Promise.race([check, exited]);
      if (answer.status !== CheckResponse_ServingStatus.SERVING)
        throw new Error(`agent Check answered ${answer.status}`);
      this.connectedAt = performance.now();
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  private async stopDaemon(): Promise<void> {
    const daemon = this.daemon;
    if (daemon === undefined) return;
    this.daemon = undefined;
    signalPid(daemon.pid, 'SIGTERM');
    const timer = setTimeout(() => signalPid(daemon.pid, 'SIGKILL'), DAEMON_STOP_GRACE_MS);
    await daemon.exited;
    clearTimeout(timer);
  }
}
