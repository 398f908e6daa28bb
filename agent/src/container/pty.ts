/**
 * A pty for a process with `terminal: true`. The agent opens the master on the guest's devpts
 * (/dev/ptmx) and keeps it; the launcher's child unlocks it, opens the slave with TIOCGPTPEER
 * (no path lookup) and makes it its controlling terminal and stdio. Resizing needs
 * ioctl(TIOCSWINSZ), which Node cannot issue, so it is a one-step launcher plan on the master.
 *
 * The master reads EIO once every slave descriptor is closed: that is the terminal's EOF.
 */
import { constants, openSync } from 'node:fs';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { ReadStream } from 'node:tty';
import { step } from './launch_plan';
import { Launch, TTY_MASTER_FD } from './process_launcher';
import type { ContainerErrorContext } from './errors';

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

  static open(): Pty {
    return new Pty(openSync('/dev/ptmx', constants.O_RDWR | constants.O_NOCTTY));
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
