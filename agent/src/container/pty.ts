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
 * The master reads EIO once every slave descriptor is closed: that is the terminal's EOF.
 */
import { constants, fstatSync, openSync, closeSync } from 'node:fs';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { ReadStream } from 'node:tty';
import { errorMessage } from '@vfs/contracts';
import { ContainerError, type ContainerErrorContext } from './errors';
import { step } from './launch_plan';
import { Launch, TTY_MASTER_FD } from './process_launcher';

/** /dev/ptmx and every devpts's ptmx node are this device (TTYAUX_MAJOR 5, minor 2). */
const PTMX_RDEV = (5 << 8) | 2;

export class Pty {
  /** Bytes typed into the terminal. */
  readonly input: Writable;
  /** Bytes the process wrote to the terminal (stdout and stderr together). */
  readonly output: Readable;

  private readonly master: ReadStream;

  private constructor(readonly fd: number) {
    this.master = new ReadStream(fd);
    const output = new PassThrough();
    this.master.on('data', (chunk: Buffer) => output.write(chunk));
    this.master.on('end', () => output.end());
    this.master.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EIO') output.end();
      else output.destroy(err);
    });
    this.master.resume();
    this.input = this.master;
    this.output = output;
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
      fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NOFOLLOW);
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
    return new Pty(fd);
  }

  async resize(launcherPath: string, rows: number, cols: number, context: ContainerErrorContext): Promise<void> {
    const plan = [step('winsize', TTY_MASTER_FD, rows, cols)];
    await new Launch({ launcherPath, plan, ttyMasterFd: this.fd, context }).done;
  }

  /** Closing the stream closes the master descriptor. */
  close(): void {
    this.master.destroy();
  }
}
