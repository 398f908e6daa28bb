// The agent's connection, handed from the warm pool to the shim that adopts its VM. QEMU's agent
// socket takes one client at a time, so a pool that closed its connection for the shim to open
// its own made the guest see its host leave and come back: the agent then closes and reopens its
// virtio-serial port, and the guest kernel drops what a host sends into a port being closed.
// When the guest learned of the close only after it had answered the new host's Check on the old
// port, the shim's next call (CreateSandbox) was dropped and never answered. So the pool keeps a
// copy of its connected socket for a moment and names it in the hand-over; the shim copies it out
// of the pool's process with pidfd_getfd(2) (Linux 5.6; ptrace access to the pool, which root
// has unless Yama or an LSM says otherwise), and the guest sees one host throughout. While the
// copy is held QEMU accepts no other client, so a shim that cannot take it connects anew only
// after the hold.
import { closeSync, fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import type { AgentConnectionRef } from '@vfs/contracts';
import { errnoName } from '../libc';
import { pidfdLibc } from '../vm/libc_pidfd';

/**
 * How long the pool keeps its copy: the adopter takes its own within milliseconds of the answer,
 * and one that cannot waits this long for QEMU to accept its own connection.
 */
export const AGENT_HANDOVER_HOLD_MS = 1000;

export class AgentHandoverError extends Error {
  constructor(message: string) {
    super(`agent connection hand-over: ${message}`);
    this.name = 'AgentHandoverError';
  }
}

/** The descriptor of a connected socket (Node keeps it on the socket's libuv handle). */
function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new AgentHandoverError('the agent socket has no descriptor');
  return fd;
}

/**
 * The pool's side: a copy of `socket`'s descriptor that nothing here reads, closed after
 * `holdMs`. The caller then closes its socket; the connection lives on in the copy.
 */
export function holdAgentConnection(socket: Socket, holdMs: number = AGENT_HANDOVER_HOLD_MS): AgentConnectionRef {
  const fd = pidfdLibc().dup(socketFd(socket));
  if (fd < 0) throw new AgentHandoverError(`dup of the agent socket: ${errnoName(-fd)}`);
  let inode: number;
  try {
    inode = fstatSync(fd).ino;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  // libc's close: a result, not an exception, which in a timer would take the pool down.
  setTimeout(() => pidfdLibc().close(fd), holdMs).unref();
  return { pid: process.pid, fd, inode };
}

/**
 * The adopter's side: the connection the pool holds, as a socket of this process. Throws why it
 * cannot be taken (the pool's copy closed, its pid gone); the caller then connects anew.
 */
export function takeAgentConnection(ref: AgentConnectionRef): Socket {
  const libc = pidfdLibc();
  const pidfd = libc.pidfdOpen(ref.pid);
  if (pidfd < 0) throw new AgentHandoverError(`pidfd_open(pid ${ref.pid}): ${errnoName(-pidfd)}`);
  let fd: number;
  try {
    fd = libc.pidfdGetfd(pidfd, ref.fd);
  } finally {
    libc.close(pidfd);
  }
  if (fd < 0) throw new AgentHandoverError(`pidfd_getfd(pid ${ref.pid}, fd ${ref.fd}): ${errnoName(-fd)}`);
  try {
    // Past the pool's hold, its descriptor number may name another file: only that socket will do.
    const stat = fstatSync(fd);
    if (!stat.isSocket() || stat.ino !== ref.inode)
      throw new AgentHandoverError(`fd ${ref.fd} of pid ${ref.pid} is no longer the agent's socket ${ref.inode}`);
    const socket = new Socket({ fd, readable: true, writable: true });
    // Until the ttrpc client takes it over, an error only closes it: the dial then fails with it
    // (socket.errored), rather than an unhandled 'error' ending the shim.
    socket.once('error', () => undefined);
    return socket;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
