/**
 * Boots the real guest (build/guest, from `make guest`) under TCG on microvm and q35:
 * - vfs.mode=poweroff: the VM reaches /init and powers itself off;
 * - vfs.mode=script: a script in a virtio-fs share (served by the C virtiofsd) writes a file the
 *   host then reads, and the console reports VFS-SCRIPT-EXIT=0;
 * - vfs.mode=agent: /init mounts the runtime share, finds the virtio-serial port named agent.0 and
 *   runs `<runtime>/node <runtime>/agent.js --port <port>`, or `<runtime>/node <its flags>
 *   --snapshot-blob <runtime>/agent.blob -- --port <port>` when the runtime has that startup
 *   snapshot, and agent.js after all when node cannot load it; a shell script stands in for node.
 *   With vfs.runtime_image, the runtime is an erofs image (agent/runtime/build-image.sh) on a
 *   read-only virtio-blk disk instead, and no virtio-fs device exists to fall back to.
 * Prints launch → init marker and launch → exit wall times per machine.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AGENT_SNAPSHOT_REFUSED,
  agentExitStatus,
  bootArgs,
  DEFAULT_RUNTIME_TAG,
  INIT_ERROR,
  INIT_MARKERS,
  RUNTIME_IMAGE_SERIAL,
  scriptExitStatus,
} from '@vfs/contracts';
import { REPO_ROOT } from '@vfs/harness/repo';
import type { Machine, QemuConfig, VhostUserFsDevice } from '@vfs/shim/vm';
import { killQemuByPid } from '@vfs/shim/vm';
import {
  BOOT_TIMEOUT_MS,
  GuestVms,
  KERNEL,
  requireGuestImage,
  vmConfig as baseConfig,
  withDeadline,
  type BootResult,
} from '@vfs/harness/guest_vm';

const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const MACHINES: readonly Machine[] = ['microvm', 'q35'];

jest.setTimeout(3 * BOOT_TIMEOUT_MS);

/** Daemons this file started; VMs are tracked by `vms`. */
const pids: number[] = [];
const vms = new GuestVms();
let workDir = '';

beforeAll(requireGuestImage);

beforeEach(() => {
  workDir = mkdtempSync(join(tmpdir(), 'vfs-boot-'));
});

afterEach(() => {
  vms.killAll();
  for (const pid of pids.splice(0)) killQemuByPid(pid, 'SIGKILL');
  rmSync(workDir, { recursive: true, force: true });
});

function vmConfig(machine: Machine, kernelArgs: string[], fsDevices: VhostUserFsDevice[] = []): QemuConfig {
  return baseConfig(workDir, machine, kernelArgs, fsDevices);
}

const startQemu = (config: QemuConfig, extra: Partial<QemuConfig> = {}) => vms.start(workDir, config, extra);
const boot = (config: QemuConfig, extra: Partial<QemuConfig> = {}): Promise<BootResult> =>
  vms.boot(workDir, config, extra);

/** Starts the C virtiofsd on `source` and resolves once its socket exists. */
async function startVirtiofsd(source: string, socketPath: string): Promise<void> {
  const child = spawn(VIRTIOFSD, [`--socket-path=${socketPath}`, '-o', `source=${source}`, '-o', 'cache=auto'], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  if (child.pid === undefined) throw new Error(`cannot start ${VIRTIOFSD}`);
  pids.push(child.pid);
  const since = Date.now();
  while (!existsSync(socketPath)) {
    if (child.exitCode !== null || Date.now() - since > 5000) {
      throw new Error(`${VIRTIOFSD} did not create ${socketPath} (exit code ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function makeShare(name: string, files: Record<string, string | Buffer>): string {
  const dir = join(workDir, name);
  mkdirSync(dir);
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content, { mode: 0o755 });
  return dir;
}

function report(what: string, result: BootResult): void {
  const ms = (n: number): string => `${Math.round(n)} ms`;
  process.stdout.write(
    `${what}: launch → init marker ${ms(result.initMarkerMs)}, launch → exit ${ms(result.exitMs)}\n`,
  );
}

/** The sh_type of each section of a 64-bit little-endian ELF file. */
function elfSectionTypes(path: string): number[] {
  const elf = readFileSync(path);
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  return Array.from({ length: shnum }, (_, i) => elf.readUInt32LE(shoff + i * shentsize + 4));
}

const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;

it("installs the kernel without a symbol table, which QEMU would read into every VM's heap", () => {
  const types = elfSectionTypes(KERNEL);
  expect(types).toContain(SHT_PROGBITS);
  expect(types).not.toContain(SHT_SYMTAB);
});

/** From the first loadable segment's physical address to the end of the last one's memory, bytes. */
function elfLoadedSpan(path: string): number {
  const elf = readFileSync(path);
  const ELFCLASS64 = 2;
  const ELFDATA2LSB = 1;
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== ELFCLASS64 || elf[5] !== ELFDATA2LSB)
    throw new Error(`${path} is not a 64-bit little-endian ELF file`);
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  const PT_LOAD = 1;
  let start = Number.POSITIVE_INFINITY;
  let end = 0;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (elf.readUInt32LE(at) !== PT_LOAD) continue;
    const paddr = Number(elf.readBigUInt64LE(at + 0x18));
    start = Math.min(start, paddr);
    end = Math.max(end, paddr + Number(elf.readBigUInt64LE(at + 0x28)));
  }
  if (end <= start) throw new Error(`${path} has no loadable segment`);
  return end - start;
}

// QEMU writes the whole image into guest RAM and the kernel clears its .bss: every guest's RAM holds
// it (the init sections and one gap, ≈ 1.8 MiB, go back to the guest's allocator after boot). It
// comes in 2 MiB steps (ARCHITECTURE.md, 'The guest kernel'): 14.1 MiB since the ORC tables and the
// call-depth padding went; an option that adds a step takes 2 MiB of every sandbox.
it('installs a kernel whose loaded image spans less than 16 MiB', () => {
  expect(elfLoadedSpan(KERNEL) / 2 ** 20).toBeLessThan(16);
});

describe.each(MACHINES)('guest on %s under TCG', (machine) => {
  it('reaches /init and powers off in vfs.mode=poweroff', async () => {
    const result = await boot(vmConfig(machine, bootArgs({ mode: 'poweroff' })));
    report(`${machine} poweroff`, result);
    expect(result.exit).toMatchObject({ code: 0, signal: null });
    expect(result.console).toMatch(INIT_MARKERS.start);
    expect(result.console).toMatch(INIT_MARKERS.poweroff);
  });

  it('refuses a command line without vfs.mode: an error on the console, then power off', async () => {
    const result = await boot(vmConfig(machine, []));
    expect(result.exit).toMatchObject({ code: 0, signal: null });
    expect(INIT_ERROR.exec(result.console)?.groups?.why).toBe('no vfs.mode= on the kernel command line');
    expect(result.console).toMatch(INIT_MARKERS.poweroff);
  });

  it('runs a script from a virtio-fs share that writes into the share, in vfs.mode=script', async () => {
    const share = makeShare('share', { 'run.sh': 'echo "written by $(uname -r)" > from-guest.txt\n' });
    const socketPath = join(workDir, 'fs.sock');
    await startVirtiofsd(share, socketPath);
    const fs = [{ id: 'fs0', socketPath, tag: 'share' }];
    const result = await boot(vmConfig(machine, bootArgs({ mode: 'script', tag: 'share', script: 'run.sh' }), fs));
    report(`${machine} script`, result);
    expect(result.exit.code).toBe(0);
    expect(scriptExitStatus(result.console)).toBe(0);
    expect(readFileSync(join(share, 'from-guest.txt'), 'utf8')).toMatch(/^written by \d+\.\d+/);
  });

  /** Boots the agent mode with `files` as the runtime share; the stand-in node greets on the port. */
  async function bootStandIn(files: Record<string, string | Buffer>) {
    const runtime = makeShare('runtime', files);
    const socketPath = join(workDir, 'rt.sock');
    await startVirtiofsd(runtime, socketPath);
    const agentSocketPath = join(workDir, 'agent.sock');
    // No vfs.runtime_tag: /init's default is part of what this proves.
    const config = vmConfig(machine, bootArgs({ mode: 'agent' }), [
      { id: 'fs0', socketPath, tag: DEFAULT_RUNTIME_TAG },
    ]);
    const qemu = await startQemu(config, { agentSocketPath });
    const greeting = await readAgentLine(agentSocketPath);
    const exit = await withDeadline(qemu.exited, BOOT_TIMEOUT_MS, 'guest did not power off after the agent exited');
    return { greeting, exit, consoleLog: readFileSync(config.consoleLogPath, 'utf8') };
  }

  it('starts the agent from the runtime share on the virtio-serial port agent.0, in vfs.mode=agent', async () => {
    // Stands in for node: argv is agent.js --port /dev/vportNpM; it greets the host and exits.
    const { greeting, exit, consoleLog } = await bootStandIn({
      node: '#!/bin/sh\n[ "$2" = --port ] && echo "agent-up $(basename "$1") $3" > "$3"\nsleep 0.5\n',
      'agent.js': '',
    });
    expect(greeting).toMatch(/^agent-up agent\.js \/dev\/vport\d+p\d+$/);
    expect(exit.code).toBe(0);
    expect(agentExitStatus(consoleLog)).toBe('0');
  });

  it("goes on in the runtime's busybox as PID 1, and links /bin/busybox to it (the initramfs's copy freed)", async () => {
    // Stands in for node: reports what PID 1 runs and where /bin/busybox leads.
    const { greeting, exit, consoleLog } = await bootStandIn({
      node: '#!/bin/sh\necho "agent-up $(readlink /proc/1/exe) $(readlink /bin/busybox)" > "$3"\nsleep 0.5\n',
      'agent.js': '',
      busybox: readFileSync(join(REPO_ROOT, 'build', 'runtime', 'busybox')),
    });
    expect(greeting).toBe('agent-up /run/vfs/runtime/busybox /run/vfs/runtime/busybox');
    expect(exit.code).toBe(0);
    expect(agentExitStatus(consoleLog)).toBe('0');
  });

  it('starts the agent from its startup snapshot agent.blob, under the flags it was built with', async () => {
    // Stands in for node: writes its own argv to the port named after `--`, and exits.
    const { greeting, exit } = await bootStandIn({
      node: '#!/bin/sh\nargs="$*"\nwhile [ "$1" != -- ]; do shift; done\necho "agent-up $args" > "$3"\nsleep 0.5\n',
      'agent.js': '',
      'agent.blob': '',
      'agent.blob.flags': '--no-enable-avx --mcpu=generic\n',
    });
    expect(greeting).toMatch(
      /^agent-up --no-enable-avx --mcpu=generic --snapshot-blob \/run\/vfs\/runtime\/agent\.blob -- --port \/dev\/vport\d+p\d+$/,
    );
    expect(exit.code).toBe(0);
  });

  it('falls back to agent.js when node cannot load the snapshot (exit 14)', async () => {
    // Stands in for node: refuses the blob as node does one built for other flags or CPU features.
    const { greeting, exit, consoleLog } = await bootStandIn({
      node: '#!/bin/sh\n[ "$1" = --snapshot-blob ] && exit 14\necho "agent-up $(basename "$1") $3" > "$3"\nsleep 0.5\n',
      'agent.js': '',
      'agent.blob': '',
    });
    expect(greeting).toMatch(/^agent-up agent\.js \/dev\/vport\d+p\d+$/);
    expect(consoleLog).toMatch(AGENT_SNAPSHOT_REFUSED);
    expect(exit.code).toBe(0);
    expect(agentExitStatus(consoleLog)).toBe('0');
  });

  it('starts the agent from the runtime image on a read-only virtio-blk disk, mounted ro,nosuid,nodev', async () => {
    // Stands in for node: reports the runtime's mount and whether the guest's disk is read-only.
    const runtime = makeShare('runtime', {
      node: [
        '#!/bin/sh',
        'port=$3',
        'set -- $(grep " /run/vfs/runtime " /proc/mounts)',
        'echo "agent-up $* blk-ro=$(cat /sys/block/$(basename "$1")/ro)" > "$port"',
        'sleep 0.5',
        '',
      ].join('\n'),
      'agent.js': '',
    });
    const image = join(workDir, 'runtime.erofs');
    execFileSync('bash', [join(REPO_ROOT, 'agent/runtime/build-image.sh'), runtime, image], { stdio: 'ignore' });
    const agentSocketPath = join(workDir, 'agent.sock');
    const config = vmConfig(machine, bootArgs({ mode: 'agent', runtimeImage: RUNTIME_IMAGE_SERIAL }));
    const readonlyDisks = [{ id: 'rt', path: image, serial: RUNTIME_IMAGE_SERIAL }];
    const qemu = await startQemu(config, { agentSocketPath, readonlyDisks });
    const greeting = await readAgentLine(agentSocketPath);
    const exit = await withDeadline(qemu.exited, BOOT_TIMEOUT_MS, 'guest did not power off after the agent exited');
    expect(greeting).toMatch(/^agent-up \/dev\/vd[a-z] \/run\/vfs\/runtime erofs ro,nosuid,nodev\S* 0 0 blk-ro=1$/);
    expect(exit.code).toBe(0);
  });
});

/** Connects to QEMU's agent socket (retrying until QEMU listens) and returns the first line. */
async function readAgentLine(socketPath: string): Promise<string> {
  const since = Date.now();
  for (;;) {
    try {
      return await readLine(socketPath);
    } catch (err) {
      if (Date.now() - since > BOOT_TIMEOUT_MS) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function readLine(socketPath: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(socketPath);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const end = data.indexOf('\n');
      if (end >= 0) {
        socket.destroy();
        resolvePromise(data.slice(0, end));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`agent socket ${socketPath} closed before a line arrived`)));
  });
}
