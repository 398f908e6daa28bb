// `make demo`: a container in a vfs micro-VM, end to end, on this machine. It starts a private
// containerd (own config, root, state and sockets under a temp dir), builds a busybox OCI image
// offline and imports it, then runs two containers with `ctr run --runtime io.containerd.vfs.v2`:
// `uname -r` (the GUEST's kernel, not the host's) and a greeting. containerd is stopped and every
// process, mount and directory it or the shims left is removed at the end — also on failure and
// on Ctrl-C.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import { errorMessage } from '@vfs/contracts';
import { PrivateContainerd } from '@vfs/harness/containerd';
import { buildBusyboxImage } from '@vfs/harness/oci_image';

const IMAGE = 'docker.io/library/busybox:vfs-demo';
const NAMESPACE = 'vfs-demo';
const RUNTIME = 'io.containerd.vfs.v2';

const bold = (text: string): string => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);

function step(text: string): void {
  process.stdout.write(`\n${bold(`==> ${text}`)}\n`);
}

function show(command: readonly string[]): void {
  process.stdout.write(`    $ ${command.join(' ')}\n`);
}

async function ctr(containerd: PrivateContainerd, args: readonly string[]): Promise<string> {
  show(['ctr', '--namespace', NAMESPACE, ...args]);
  const started = performance.now();
  const result = await containerd.ctr(args, { namespace: NAMESPACE, timeoutMs: 120_000 });
  if (result.code !== 0)
    throw new Error(`ctr ${args.join(' ')} failed (exit ${result.code}):\n${result.stderr}${result.stdout}`);
  process.stdout.write(`    (${((performance.now() - started) / 1000).toFixed(2)} s)\n`);
  return result.stdout;
}

function indent(text: string): string {
  return (
    text
      .trimEnd()
      .split('\n')
      .map((line) => `    | ${line}`)
      .join('\n') + '\n'
  );
}

async function runDemo(work: string, started: (containerd: PrivateContainerd) => void): Promise<void> {
  step('Starting a private containerd (own config, root, state and sockets)');
  const containerd = await PrivateContainerd.start();
  started(containerd);
  const version = execFileSync(containerd.binaries.containerd, ['--version'], { encoding: 'utf8' }).trim();
  process.stdout.write(`    ${version}\n    socket: ${containerd.grpcAddress}\n`);

  step('Building a busybox OCI image offline and importing it');
  const image = buildBusyboxImage(work, IMAGE);
  await ctr(containerd, ['images', 'import', image]);

  step(`Host kernel: ${release()}`);
  step(`Running \`uname -r\` in a container with runtime ${RUNTIME} (one QEMU micro-VM per container)`);
  process.stdout.write(
    indent(await ctr(containerd, ['run', '--rm', '--runtime', RUNTIME, IMAGE, 'demo', 'uname', '-r'])),
  );

  step('Running a greeting in another micro-VM');
  const greeting = 'echo "Hello from inside a vfs micro-VM: $(uname -srm), $(nproc) vCPU, hostname $(hostname)"';
  process.stdout.write(
    indent(await ctr(containerd, ['run', '--rm', '--runtime', RUNTIME, IMAGE, 'demo-hello', 'sh', '-c', greeting])),
  );
}

async function main(): Promise<number> {
  const work = mkdtempSync('/tmp/vfs-demo-');
  let containerd: PrivateContainerd | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = (): Promise<void> => {
    cleaning ??= (async () => {
      step('Cleaning up: containerd, shims, VMs, daemons, mounts, temp dirs');
      await containerd?.stop();
      rmSync(work, { recursive: true, force: true });
      process.stdout.write('    done: nothing left behind\n');
    })();
    return cleaning;
  };
  const interrupted = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\ndemo: ${signal}: stopping\n`);
    cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await runDemo(work, (c) => {
      containerd = c;
    });
    await cleanUp();
    return 0;
  } catch (err) {
    process.stderr.write(`\ndemo failed: ${errorMessage(err)}\n`);
    if (containerd !== undefined) process.stderr.write(`containerd log tail:\n${containerd.logTail(20)}\n`);
    await cleanUp();
    return 1;
  }
}

main().then((code) => process.exit(code));
