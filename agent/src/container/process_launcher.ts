/**
 * Runs vfs-launcher (agent/runtime/launcher) for one plan and turns its status lines into
 * promises: `console` (the child waits for its pty master), `ready` (set-up done, held at the
 * barrier), `started` (exec succeeded), `exited` (status + time), `done` (a plan without a
 * child). Control lines go the other way: "console FD", "start", "signal N", "ack".
 *
 * Descriptors of the launcher: 3 = plan then control (agent → launcher), 4 = status lines
 * (launcher → agent), 5 = the pty master for a resize plan. Its own stdio is /dev/null, except
 * stderr, which goes to the agent's (the console) for a crash message.
 */
import type { ChildProcess } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { errorMessage } from '@vfs/contracts';
import { deferred, type Deferred } from './deferred';
import { ContainerError, type ContainerErrorContext } from './errors';
import { encodePlan, type PlanStep } from './launch_plan';
import { parseLauncherLine, type LauncherEvent } from './launcher_protocol';
import { spawnLauncher, type SpareLauncher } from './spare_launcher';

export const TTY_MASTER_FD = 5;

export interface ExitStatus {
  /** The exit code, or 128 + the signal number for a signal death. */
  readonly status: number;
  readonly exitedAt: Date;
}

export interface PipeStdio {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
}

export interface LaunchOptions {
  readonly launcherPath: string;
  readonly plan: readonly PlanStep[];
  readonly ttyMasterFd?: number;
  /** A launcher started ahead (spare_launcher.ts), for a launch with no pty master to pass. */
  readonly spare?: SpareLauncher;
  /** Names the container/exec in errors. */
  readonly context: ContainerErrorContext;
}

export class Launch {
  /** The pid of a child that waits for its terminal (see pty.ts). */
  readonly console: Promise<number>;
  readonly ready: Promise<number>;
  readonly started: Promise<number>;
  readonly exited: Promise<ExitStatus>;
  readonly done: Promise<void>;
  /** The stdio pipes, once the launcher created them (never, with a terminal). */
  readonly pipes: Promise<PipeStdio>;

  private readonly child: ChildProcess;
  private readonly control: Writable;
  private readonly d: {
    console: Deferred<number>;
    ready: Deferred<number>;
    started: Deferred<number>;
    exited: Deferred<ExitStatus>;
    done: Deferred<void>;
    pipes: Deferred<PipeStdio>;
  };
  private readonly context: ContainerErrorContext;
  private lastError: ContainerError | undefined;
  private pipeError: ContainerError | undefined;

  constructor(opts: LaunchOptions) {
    this.context = opts.context;
    this.d = {
      console: deferred(),
      ready: deferred(),
      started: deferred(),
      exited: deferred(),
      done: deferred(),
      pipes: deferred(),
    };
    this.console = this.d.console.promise;
    this.ready = this.d.ready.promise;
    this.started = this.d.started.promise;
    this.exited = this.d.exited.promise;
    this.done = this.d.done.promise;
    this.pipes = this.d.pipes.promise;
    this.child =
      opts.ttyMasterFd === undefined
        ? (opts.spare?.take() ?? spawnLauncher(opts.launcherPath))
        : spawnLauncher(opts.launcherPath, [opts.ttyMasterFd]);
    this.control = this.child.stdio[3] as Writable;
    // EPIPE here means the launcher is gone; its exit (below) reports why.
    this.control.on('error', () => undefined);
    this.readStatus(this.child.stdio[4] as Readable);
    this.child.once('error', (err) => this.failAll(this.error(`cannot run ${opts.launcherPath}: ${err.message}`)));
    this.child.once('close', (code, signal) => this.onLauncherClose(code, signal));
    this.control.write(encodePlan(opts.plan));
  }

  /** The launcher's pid (undefined if it could not be started: `error` says why). */
  get launcherPid(): number | undefined {
    return this.child.pid;
  }

  /** Releases the init held at the barrier. */
  start(): void {
    this.send('start');
  }

  signal(signal: number): void {
    this.send(`signal ${signal}`);
  }

  /** Hands the child the pty master the agent opened for it, by its descriptor number here. */
  attachConsole(masterFd: number): void {
    this.send(`console ${masterFd}`);
  }

  /** Gives up on the launch: the launcher dies, its child with it (PR_SET_PDEATHSIG). */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  private send(line: string): void {
    if (!this.control.writable) {
      throw new ContainerError('BAD_STATE', 'the process has already exited', this.context);
    }
    this.control.write(`${line}\n`);
  }

  private readStatus(stream: Readable): void {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.onLine(line);
      }
    });
  }

  private onLine(line: string): void {
    let event: LauncherEvent;
    try {
      event = parseLauncherLine(line);
    } catch (err) {
      this.failAll(this.error(errorMessage(err)));
      return;
    }
    this.onEvent(event);
  }

  private onEvent(event: LauncherEvent): void {
    switch (event.kind) {
      case 'pipes':
        this.openPipes(event);
        return;
      case 'console':
        this.d.console.resolve(event.pid);
        return;
      case 'ready':
        this.d.ready.resolve(event.pid);
        return;
      case 'started':
        this.d.ready.resolve(event.pid);
        this.d.started.resolve(event.pid);
        return;
      case 'error':
        this.lastError = this.error(event.message, event.errno);
        this.d.console.reject(this.lastError);
        this.d.ready.reject(this.lastError);
        this.d.started.reject(this.lastError);
        this.d.done.reject(this.lastError);
        return;
      case 'warning':
        process.stderr.write(`vfs-agent: launcher warning: ${event.message}\n`);
        return;
      case 'exit':
        this.d.exited.resolve({ status: event.status, exitedAt: new Date() });
        return;
      case 'done':
        this.d.done.resolve();
        return;
    }
  }

  /** Opens the agent's ends through /proc/<launcher>/fd, then lets the launcher drop its copies. */
  private openPipes(fds: { stdin: number; stdout: number; stderr: number }): void {
    const base = `/proc/${this.child.pid}/fd`;
    try {
      const nb = constants.O_NONBLOCK;
      const stdin = new Socket({
        fd: openSync(`${base}/${fds.stdin}`, constants.O_WRONLY | nb),
        readable: false,
        writable: true,
      });
      const stdout = new Socket({
        fd: openSync(`${base}/${fds.stdout}`, constants.O_RDONLY | nb),
        readable: true,
        writable: false,
      });
      const stderr = new Socket({
        fd: openSync(`${base}/${fds.stderr}`, constants.O_RDONLY | nb),
        readable: true,
        writable: false,
      });
      for (const stream of [stdin, stdout, stderr]) stream.on('error', (err) => this.onIoError(err));
      this.d.pipes.resolve({ stdin, stdout, stderr });
      this.send('ack');
    } catch (err) {
      // A launcher that failed before the agent opened its ends has exited with the reason on
      // the next status line; that reason wins over this consequence (see onLauncherClose).
      this.pipeError = this.error(`cannot open the stdio pipes: ${errorMessage(err)}`);
      this.kill();
    }
  }

  /** EPIPE on stdin is the process not reading any more, which its exit status tells better. */
  private onIoError(err: NodeJS.ErrnoException): void {
    if (err.code === 'EPIPE') return;
    process.stderr.write(`vfs-agent: ${this.error(`stdio: ${err.message}`).message}\n`);
  }

  private onLauncherClose(code: number | null, signal: NodeJS.Signals | null): void {
    const why =
      this.lastError ??
      this.pipeError ??
      this.error(`launcher exited (code ${code}, signal ${signal}) without reporting`);
    this.failAll(why);
  }

  private failAll(error: ContainerError): void {
    for (const d of Object.values(this.d)) (d as Deferred<unknown>).reject(error);
  }

  private error(message: string, errno?: number): ContainerError {
    return new ContainerError('LAUNCH_FAILED', message, { ...this.context, errno });
  }
}
