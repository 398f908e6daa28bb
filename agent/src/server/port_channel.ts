/**
 * The virtio-serial port as a stream. libuv types a character device as a FILE, which Node
 * reads through its thread pool with blocking read(2)s: a read on an idle port would hold a
 * pool thread for the VM's whole life. The port supports poll(2), so it is opened instead as a
 * libuv pipe handle over the descriptor (uv_pipe_open takes any pollable fd): reads and writes
 * are non-blocking and driven by epoll on the main loop. Node exposes that handle only through
 * its `pipe_wrap` binding (on process.binding's allow-list), hence the narrow typing below.
 *
 * While the host side is not connected the port reads EOF (virtio_console returns 0), so a
 * socket from here ends as soon as the host goes away; the caller reopens the port.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { errorMessage } from '@vfs/contracts';

interface PipeHandle {
  open(fd: number): number;
}

interface PipeWrapBinding {
  readonly Pipe: new (type: number) => PipeHandle;
  readonly constants: { readonly SOCKET: number };
}

function pipeWrap(): PipeWrapBinding {
  return (process as unknown as { binding(name: 'pipe_wrap'): PipeWrapBinding }).binding('pipe_wrap');
}

export class PortError extends Error {
  constructor(
    readonly port: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`virtio-serial port ${port}: ${message}`, options);
    this.name = 'PortError';
  }
}

/** Opens the port (virtio_console allows one opener at a time: close the previous socket first). */
export function openPort(path: string): Socket {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  } catch (err) {
    throw new PortError(path, `cannot open: ${errorMessage(err)}`, { cause: err });
  }
  const { Pipe, constants: pipe } = pipeWrap();
  const handle = new Pipe(pipe.SOCKET);
  const status = handle.open(fd);
  if (status !== 0) {
    closeSync(fd);
    throw new PortError(path, `cannot poll the descriptor (libuv status ${status})`);
  }
  return new Socket({ handle, readable: true, writable: true } as ConstructorParameters<typeof Socket>[0]);
}
