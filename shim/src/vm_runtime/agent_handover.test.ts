// The hand-over with real sockets and system calls: one process plays the pool and the adopter (a
// process may pidfd_getfd from itself), a unix socket server plays QEMU's agent socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdAgentConnection, takeAgentConnection } from './agent_handover';

const HOLD_MS = 200;

function connected(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('error', reject);
    socket.once('connect', () => resolve(socket));
  });
}

function nextData(socket: Socket): Promise<string> {
  return new Promise((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

describe("the agent connection's hand-over from the pool to the adopter", () => {
  let dir: string;
  let server: Server;
  let guestSide: Promise<Socket>;
  let ended: boolean;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-agent-handover-'));
    ended = false;
    guestSide = new Promise((resolve) => {
      server = createServer((socket) => {
        socket.on('end', () => {
          ended = true;
        });
        resolve(socket);
      });
    });
    await new Promise<void>((resolve) => server.listen(join(dir, 'agent.sock'), resolve));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps one connection from the pool to the adopter: the far end never sees it close', async () => {
    const pool = await connected(join(dir, 'agent.sock'));
    const guest = await guestSide;
    const ref = holdAgentConnection(pool, HOLD_MS);
    expect(ref.pid).toBe(process.pid);
    pool.destroy();
    await closed(pool);

    const adopter = takeAgentConnection(ref);
    const request = nextData(guest);
    adopter.write('Check');
    expect(await request).toBe('Check');
    const answer = nextData(adopter);
    guest.write('SERVING');
    expect(await answer).toBe('SERVING');

    // Past the pool's hold its copy is closed; the adopter's carries on.
    await new Promise((resolve) => setTimeout(resolve, HOLD_MS * 2));
    const later = nextData(guest);
    adopter.write('CreateSandbox');
    expect(await later).toBe('CreateSandbox');
    expect(ended).toBe(false);

    const guestClosed = closed(guest);
    adopter.destroy();
    await guestClosed;
    expect(ended).toBe(true);
  });

  it('refuses a descriptor the pool no longer holds, whatever its number names by then', async () => {
    const pool = await connected(join(dir, 'agent.sock'));
    const guest = await guestSide;
    const ref = holdAgentConnection(pool, 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Another socket may take the freed number; it is not the agent's.
    const other = await connected(join(dir, 'agent.sock'));
    expect(() => takeAgentConnection(ref)).toThrow(
      /pidfd_getfd\(pid \d+, fd \d+\): EBADF|no longer the agent's socket/,
    );
    other.destroy();
    pool.destroy();
    guest.destroy();
  });

  it('names a pool process that is gone', () => {
    // pid_max is at most 2^22: this pid cannot exist.
    expect(() => takeAgentConnection({ pid: 4_194_305, fd: 3, inode: 1 })).toThrow(
      /pidfd_open\(pid 4194305\): (ESRCH|EINVAL)/,
    );
  });
});
