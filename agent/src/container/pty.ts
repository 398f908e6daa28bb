/**
 * A pty for a process with `terminal: true`, from the container's own devpts (the newinstance
 * at its /dev/pts), as runc gives it: a pty of the guest's devpts passes isatty and stty, but
 * `tty` (ttyname) finds no /dev/pts/N of the container's for it. The agent keeps the master, so
 * it opens it itself, through /proc/<child>/root once the launcher's child is inside the
 * container's mounts (Node cannot receive a descriptor the child would open); the child takes
 * it with pidfd_getfd and opens the slave with TIOCGPTPEER (agent/runtime/launcher/console.c).
 * Resizing needs ioctl(TIOCSWINSZ), which Node cannot issue, so it is a one-step launcher plan
 * on the master.
 *
 * The master reads EIO once every slave descriptor is closed: that is the terminal's EOF. How
 * the agent reads and writes it is pty_master_io.ts.
 */
import { constants, fstatSync, openSync, closeSync } from 'node:fs';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { ReadStream } from 'node:tty';
import { errorMessage } from '@vfs/contracts';
import { ContainerError, type ContainerErrorContext } from './errors';
import { step } from './launch_plan';
import { Launch, TTY_MASTER_FD } from './process_launcher';
import { drainMaster, MasterInput } from './pty_master_io';

/** /dev/ptmx and every devpts's ptmx node are this device (TTYAUX_MAJOR 5, minor 2). */
const PTMX_RDEV = (5 << 8) | 2;

export class Pty {
  /** Bytes typed into the terminal. */
  readonly input: Writable;
  /** Bytes the process wrote to the terminal (stdout and stderr together). */
  readonly output: Readable;

  private readonly master: ReadStream;

  private constructor(
    readonly fd: number,
    private readonly context: ContainerErrorContext,
  ) {
    this.master = new ReadStream(fd);
    const output = new PassThrough();
    // A host slower than the program holds the program, not the guest's memory.
    this.master.on('data', (chunk: Buffer) => {
      if (!output.write(chunk)) this.master.pause();
    });
    output.on('drain', () => this.master.resume());
    // 'end' comes turns before the stream closes the master: end() → shutdown → finish → destroy.
    this.master.on('end', () => this.drainOutput(output));
    this.master.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EIO') this.report('output', err);
      output.end();
    });
    this.master.resume();
    const input = new MasterInput(fd, () => !this.master.destroyed, context);
    input.on('error', (err: Error) => this.report('input', err));
    this.master.once('close', () => input.destroy());
    this.input = input;
    this.output = output;
  }

  /** libuv's end of a master is a guess (pty_master_io.ts): reads up to the real one first. */
  private drainOutput(output: PassThrough): void {
    try {
      if (!this.master.destroyed) drainMaster(this.fd, output);
    } catch (err) {
      this.report('output', err as Error);
    }
    output.end();
  }

  /**
   * The output's reader and the input's writers do not take errors: a failure ends the
   * output, and a write's callback has its own. The terminal closing is no fault: the exit
   * status tells why.
   */
  private report(stream: 'input' | 'output', err: Error): void {
    if (err instanceof ContainerError) return;
    const failure = new ContainerError('LAUNCH_FAILED', `terminal ${stream}: ${err.message}`, this.context);
    process.stderr.write(`vfs-agent: ${failure.message}\n`);
  }

  /**
   * A new pty on the devpts mounted at /dev/pts in the root of `pid`, a process inside the
   * container. pts/ptmx rather than the /dev/ptmx link: a link would resolve against the
   * agent's root; O_NOFOLLOW and the device check keep a changed /dev from handing over
   * anything but a ptmx.
   */
  static openIn(pid: number, context: ContainerErrorContext): Pty {
    const path = `/proc/${pid}/root/dev/pts/ptmx`;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const errno = -((err as NodeJS.ErrnoException).errno ?? 0);
      throw new ContainerError(
        'LAUNCH_FAILED',
        `cannot open the container's pty master ${path}: ${errorMessage(err)}`,
        { ...context, errno, cause: err },
      );
    }
    if (fstatSync(fd).rdev !== PTMX_RDEV) {
      closeSync(fd);
      throw new ContainerError('LAUNCH_FAILED', `${path} is not a ptmx device`, context);
    }
    return new Pty(fd, context);
  }

  async resize(launcherPath: string, rows: number, cols: number, context: ContainerErrorContext): Promise<void> {
    // Once the stream closed the master there is no terminal to size (runc's shim answers such a
    // resize, ctr's first one after a quick exit, with success), and its number may name another
    // file: nothing is done.
    if (this.master.destroyed) return;
    const plan = [step('winsize', TTY_MASTER_FD, rows, cols)];
    await new Launch({ launcherPath, plan, ttyMasterFd: this.fd, context }).done;
  }

  /** Closing the read stream closes the master descriptor. */
  close(): void {
    this.input.destroy();
    this.master.destroy();
  }
}
