// A process on a terminal through the real vfs-launcher, compiled as `make runtime` compiles it
// and run on this host as the agent runs it in a guest: the launcher's child takes the master
// the agent opened on the host's devpts, and the program runs in the host's root.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OciProcess } from '@vfs/contracts';
import { pidAlive } from '@vfs/harness/process';
import { buildHostLauncher, type HostLauncher } from '../../test_support/host_launcher';
import { ContainerProcess } from './container_process';
import { step } from './launch_plan';
import { Launch } from './process_launcher';
import { processSteps, terminalSteps } from './process_plan';

function onTerminal(script: string): OciProcess {
  return {
    terminal: true,
    consoleSize: { height: 24, width: 80 },
    user: { uid: 0, gid: 0 },
    args: ['/bin/sh', '-c', script],
    env: ['PATH=/usr/bin:/bin'],
    cwd: '/',
  };
}

async function readUntil(output: AsyncIterator<Buffer>, wanted: string): Promise<string> {
  let seen = '';
  while (!seen.includes(wanted)) {
    const next = await output.next();
    if (next.done === true) throw new Error(`the terminal ended before "${wanted}": ${JSON.stringify(seen)}`);
    seen += next.value.toString();
  }
  return seen;
}

describe('a process on a terminal', () => {
  let launcher: HostLauncher;
  beforeAll(() => {
    launcher = buildHostLauncher('vfs-pty-');
  });
  afterAll(() => launcher.remove());

  const launch = (process: OciProcess): Promise<ContainerProcess> =>
    ContainerProcess.launch({
      launcherPath: launcher.path,
      parentSteps: terminalSteps(process),
      childSteps: processSteps(process, { barrier: false, createCwd: false }),
      terminal: true,
      held: false,
      context: { containerId: 'pty-test' },
    });

  it('keeps everything the process wrote right before it exited', async () => {
    // The tail used to be lost in about one run in three on this host, kilobytes of it.
    const lengths: number[] = [];
    for (let run = 0; run < 30; run++) {
      const proc = await launch(onTerminal('head -c 100000 /dev/zero | tr "\\0" x; echo END'));
      let out = '';
      for await (const chunk of proc.io.stdout) out += (chunk as Buffer).toString();
      await proc.wait();
      proc.close();
      lengths.push(out.endsWith('xEND\r\n') ? out.length : -out.length);
    }
    expect(lengths).toEqual(Array(30).fill(100_000 + 'END\r\n'.length));
  });

  it('holds a program that writes faster than its output is read', async () => {
    const size = 4 << 20;
    const proc = await launch(onTerminal(`head -c ${size} /dev/zero`));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Blocked in write(2): the agent stopped reading the master, and buffers little.
    expect(pidAlive(proc.pid)).toBe(true);
    expect(proc.io.stdout.readableLength).toBeLessThan(256 * 1024);
    let length = 0;
    for await (const chunk of proc.io.stdout) length += (chunk as Buffer).length;
    expect(length).toBe(size);
    expect((await proc.wait()).status).toBe(0);
    proc.close();
  });

  it('keeps the agent serving while the program reads none of the input sent to it', async () => {
    const proc = await launch(onTerminal('stty raw -echo; echo ready; exec sleep 5'));
    try {
      await readUntil(proc.io.stdout[Symbol.asyncIterator](), 'ready');
      // Far more than the terminal's input queue holds: a blocking write would stop this
      // event loop (the agent's) until the program exits, and the timer below with it.
      const written = new Promise<Error | null | undefined>((resolve) =>
        proc.io.stdin.write(Buffer.alloc(1 << 20, 0x61), resolve),
      );
      let settled = false;
      void written.then(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(pidAlive(proc.pid)).toBe(true);
      expect(settled).toBe(false);
      // The agent letting the terminal go ends the wait.
      proc.close();
      expect(await written).toMatchObject({
        code: 'BAD_STATE',
        message: 'container pty-test: the terminal was closed',
      });
    } finally {
      proc.signal(9);
      await proc.wait();
    }
  });

  it('passes on all the input a program reads, past a full terminal, and fails what comes after its exit', async () => {
    const size = 1 << 20;
    const proc = await launch(onTerminal(`stty raw -echo; echo ready; head -c ${size} | wc -c`));
    const output = proc.io.stdout[Symbol.asyncIterator]();
    await readUntil(output, 'ready');
    const write = (data: Buffer): Promise<Error | null | undefined> =>
      new Promise((resolve) => proc.io.stdin.write(data, resolve));
    expect(await write(Buffer.alloc(size, 0x61))).toBeFalsy();
    expect(await readUntil(output, `${size}`)).toContain(`${size}`);
    expect((await proc.wait()).status).toBe(0);
    // The terminal closed (BAD_STATE), or the input went with the master (destroyed).
    expect(await write(Buffer.from('late'))).toMatchObject({
      code: expect.stringMatching(/^(BAD_STATE|ERR_STREAM_DESTROYED)$/),
    });
    proc.close();
  });

  it("refuses a master that is not of its own /dev/pts: the agent's number may name another file by then", async () => {
    const process = onTerminal('echo should not run');
    const plan = [
      ...terminalSteps(process),
      step('spawn'),
      ...processSteps(process, { barrier: false, createCwd: false }),
    ];
    const launch = new Launch({ launcherPath: launcher.path, plan, context: {} });
    await launch.console;
    // Another devpts instance's ptmx, as another container's terminal would be.
    const other = mkdtempSync(join(tmpdir(), 'vfs-pty-devpts-'));
    execFileSync('mount', ['-t', 'devpts', '-o', 'newinstance,ptmxmode=0666', 'devpts', other]);
    const fd = openSync(join(other, 'ptmx'), constants.O_RDWR | constants.O_NOCTTY);
    try {
      launch.attachConsole(fd);
      await expect(launch.started).rejects.toThrow("not a pty master of this container's /dev/pts");
    } finally {
      closeSync(fd);
      execFileSync('umount', [other]);
      rmSync(other, { recursive: true });
    }
  });

  it('answers a resize once the terminal is closed with success and does nothing (as runc)', async () => {
    const proc = await launch(onTerminal('true'));
    for await (const _ of proc.io.stdout);
    await proc.wait();
    proc.close();
    await expect(proc.resize(30, 100)).resolves.toBeUndefined();
  });
});
