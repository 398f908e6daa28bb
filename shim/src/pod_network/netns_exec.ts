// Runs iproute2 and tc inside the pod's network namespace with util-linux nsenter: the shim is
// one Node process whose threads must stay in the host's namespaces, and nsenter takes any netns
// path (CRI's /var/run/netns/cni-…, Docker's /var/run/docker/netns/…).

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { errorMessage } from '@vfs/contracts';
import { SandboxError } from '../sandbox_error';

const run = promisify(execFile);

/** The command that runs `argv` in the network namespace at `netnsPath`. */
export function inNetns(netnsPath: string, argv: readonly string[]): string[] {
  return ['nsenter', `--net=${netnsPath}`, '--', ...argv];
}

function stderrOf(err: unknown): string {
  const stderr = (err as { stderr?: unknown }).stderr;
  return typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : errorMessage(err);
}

/** Runs `argv` in the netns and returns its stdout; a failure names the command and its stderr. */
export async function runInNetns(netnsPath: string, argv: readonly string[]): Promise<string> {
  const [program, ...args] = inNetns(netnsPath, argv);
  try {
    return (await run(program as string, args)).stdout;
  } catch (err) {
    throw new SandboxError('host-failure', `\`${argv.join(' ')}\` in ${netnsPath}: ${stderrOf(err)}`, {
      cause: err,
    });
  }
}

/** Fails with a clear error when the path is not a network namespace this process may enter. */
export async function checkNetns(netnsPath: string): Promise<void> {
  try {
    await run('nsenter', [`--net=${netnsPath}`, '--', 'true']);
  } catch (err) {
    throw new SandboxError('bad-request', `cannot enter the pod network namespace ${netnsPath}: ${stderrOf(err)}`, {
      cause: err,
    });
  }
}
