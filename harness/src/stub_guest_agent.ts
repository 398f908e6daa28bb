// TEST DOUBLE — not the vfs agent. A stand-in guest agent that serves AgentService on the
// virtio-serial port without running anything: each "container" is a record whose process never
// starts and exits only when signalled or removed. It lets e2e tests drive the shim's VM
// infrastructure (vfs-virtiofsd, QEMU, the agent channel, teardown, faults, cleanup after a
// crash) through real containerd with containers whose fate the test decides. Bundled by the test
// into a copy of build/runtime as agent.js, without agent.blob; /init then runs it as `node agent.js
// --port /dev/vportNpM`.

import { openSync, read, write } from 'node:fs';
import { Duplex } from 'node:stream';
import { AgentServiceDefinition, CheckResponse_ServingStatus } from '@vfs/proto/gen/agent/agent';
import { Code, TtrpcError, TtrpcServer, type ServiceImplementation } from '@vfs/proto/ttrpc';

interface StubProcess {
  readonly pid: number;
  status: number | undefined;
  readonly exited: Promise<number>;
  exit(status: number): void;
}

const processes = new Map<string, StubProcess>();
let nextPid = 100;

function newProcess(key: string): StubProcess {
  let exit: (status: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => {
    exit = resolve;
  });
  const process: StubProcess = {
    pid: nextPid++,
    status: undefined,
    exited,
    exit(status) {
      if (this.status !== undefined) return;
      this.status = status;
      exit(status);
    },
  };
  processes.set(key, process);
  return process;
}

function find(containerId: string, execId: string): StubProcess {
  const found = processes.get(`${containerId}/${execId}`);
  if (found === undefined) throw new TtrpcError(Code.NotFound, `stub agent: no process ${containerId}/${execId}`);
  return found;
}

const unsupported = async (): Promise<never> => {
  throw new TtrpcError(Code.Unimplemented, 'stub agent: not supported');
};

const implementation: ServiceImplementation<typeof AgentServiceDefinition> = {
  check: async () => ({ status: CheckResponse_ServingStatus.SERVING }),
  warmUp: unsupported,
  createSandbox: async () => ({}),
  destroySandbox: async () => {
    for (const p of processes.values()) p.exit(137);
    return {};
  },
  createContainer: async (req) => ({ pid: newProcess(`${req.containerId}/`).pid }),
  startContainer: async (req) => ({ pid: find(req.containerId, '').pid }),
  removeContainer: async (req) => {
    find(req.containerId, '').exit(137);
    return {};
  },
  signalProcess: async (req) => {
    find(req.containerId, req.execId).exit(128 + req.signal);
    return {};
  },
  waitProcess: async (req) => ({
    exitStatus: await find(req.containerId, req.execId).exited,
    exitedAt: new Date(),
    exitReason: 0,
  }),
  readStdout: async (req) => {
    await find(req.containerId, req.execId).exited;
  },
  readStderr: async (req) => {
    await find(req.containerId, req.execId).exited;
  },
  outputConsumed: async () => ({}),
  getOOMEvent: () => new Promise(() => undefined),
  pauseContainer: unsupported,
  resumeContainer: unsupported,
  updateContainer: unsupported,
  statsContainer: unsupported,
  execProcess: unsupported,
  listProcesses: unsupported,
  writeStdin: unsupported,
  closeStdin: unsupported,
  ttyWinResize: unsupported,
  mountShare: unsupported,
  unmountShare: unsupported,
  addContainerMount: unsupported,
  removeContainerMount: unsupported,
  getGuestDetails: unsupported,
};

/**
 * The virtio-serial port as a file, read and written through the thread pool (the real agent
 * opens it as a pipe handle instead: agent/src/server/port_channel.ts). A read returns 0 while
 * the host side is not connected: that is not the end of the channel, so it is retried.
 */
class PortChannel extends Duplex {
  private readonly fd: number;

  constructor(path: string) {
    super();
    this.fd = openSync(path, 'r+');
  }

  override _read(): void {
    const buffer = Buffer.alloc(65536);
    read(this.fd, buffer, 0, buffer.length, null, (err, n) => {
      if (err !== null) this.destroy(err);
      else if (n === 0) setTimeout(() => this._read(), 50);
      else this.push(buffer.subarray(0, n));
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    write(this.fd, chunk, (err, written) => {
      if (err !== null) done(err);
      else if (written < chunk.length) this._write(chunk.subarray(written), _encoding, done);
      else done();
    });
  }
}

const port = process.argv[process.argv.indexOf('--port') + 1] as string;
const channel = new PortChannel(port);
new TtrpcServer().register(AgentServiceDefinition, implementation).serveConnection(channel);
process.stderr.write(`stub-agent: serving on ${port}\n`);
