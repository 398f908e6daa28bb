/**
 * One process of a container (its init, or an exec) and its stdio: pipes, or a pty whose master
 * the agent keeps. Output streams end at EOF independently of the exit status: a daemonized
 * grandchild may keep them open, so callers decide how long to drain after `wait()`.
 */
import type { Readable, Writable } from 'node:stream';
import { ContainerError, type ContainerErrorContext } from './errors';
import { step, type PlanStep } from './launch_plan';
import { Launch, type ExitStatus } from './process_launcher';
import type { SpareLauncher } from './spare_launcher';
import { Pty } from './pty';

export interface ProcessIo {
  readonly stdin: Writable;
  /** With a terminal: everything the process wrote to it. */
  readonly stdout: Readable;
  /** Absent with a terminal (it merges into stdout). */
  readonly stderr?: Readable;
}

export interface ProcessLaunchOptions {
  readonly launcherPath: string;
  /** A launcher started ahead, taken instead of starting one (spare_launcher.ts). */
  readonly spare?: SpareLauncher;
  /** Steps that run in the launcher before clone3 (the sandbox's set-up, namespaces, cgroup, join, tty). */
  readonly parentSteps: readonly PlanStep[];
  /** Steps that run in the child, ending in `exec`. */
  readonly childSteps: readonly PlanStep[];
  /** The plan has `tty` and `console` steps: the stdio is a pty, not pipes. */
  readonly terminal: boolean;
  /** Wait at the barrier (init between create and start) instead of for exec. */
  readonly held: boolean;
  readonly context: ContainerErrorContext;
}

export class ContainerProcess {
  private exitStatus: ExitStatus | undefined;

  private constructor(
    readonly pid: number,
    readonly io: ProcessIo,
    private readonly launch: Launch,
    private readonly launcherPath: string,
    private readonly pty: Pty | undefined,
    private readonly context: ContainerErrorContext,
  ) {
    void launch.exited.then(
      (status) => {
        this.exitStatus = status;
      },
      // The launcher died without reporting (wait() rejects with why); its child died with it
      // through PR_SET_PDEATHSIG, so the process counts as exited, with runc's 128+SIGKILL.
      () => {
        this.exitStatus = { status: 128 + 9, exitedAt: new Date() };
      },
    );
  }

  static async launch(opts: ProcessLaunchOptions): Promise<ContainerProcess> {
    const plan = [...opts.parentSteps, step('spawn'), ...opts.childSteps];
    const launch = new Launch({ launcherPath: opts.launcherPath, spare: opts.spare, plan, context: opts.context });
    const pty = opts.terminal ? await attachTerminal(launch, opts.context) : undefined;
    const io: ProcessIo = pty === undefined ? await launch.pipes : { stdin: pty.input, stdout: pty.output };
    try {
      const pid = await (opts.held ? launch.ready : launch.started);
      return new ContainerProcess(pid, io, launch, opts.launcherPath, pty, opts.context);
    } catch (err) {
      closeIo(io);
      pty?.close();
      throw err;
    }
  }

  get exited(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** Releases an init held at the barrier; resolves once it runs the spec's program. */
  async start(): Promise<void> {
    this.launch.start();
    await this.launch.started;
  }

  wait(): Promise<ExitStatus> {
    return this.launch.exited;
  }

  signal(signal: number): void {
    if (this.exitStatus !== undefined) {
      throw new ContainerError('BAD_STATE', `process ${this.pid} has already exited`, this.context);
    }
    this.launch.signal(signal);
  }

  /** EOF on the process's stdin; with a terminal, ^D (VEOF) as a user would type it. */
  closeStdin(): void {
    if (this.pty === undefined) this.io.stdin.end();
    else this.io.stdin.write('\x04');
  }

  async resize(rows: number, cols: number): Promise<void> {
    if (this.pty === undefined) throw new ContainerError('BAD_STATE', 'the process has no terminal', this.context);
    await this.pty.resize(this.launcherPath, rows, cols, this.context);
  }

  /** Drops the agent's ends of the stdio (after delete). */
  close(): void {
    closeIo(this.io);
    this.pty?.close();
  }
}

/** Opens the pty once the launcher's child waits inside the container, and hands it over. */
async function attachTerminal(launch: Launch, context: ContainerErrorContext): Promise<Pty> {
  const pid = await launch.console;
  let pty: Pty | undefined;
  try {
    pty = Pty.openIn(pid, context);
    launch.attachConsole(pty.fd);
    return pty;
  } catch (err) {
    pty?.close();
    launch.kill();
    throw err;
  }
}

function closeIo(io: ProcessIo): void {
  io.stdin.destroy();
  io.stdout.destroy();
  io.stderr?.destroy();
}
