// `start`: containerd runs it with the bundle as cwd and reads stdout (merged with stderr) as the
// shim's address, so on success nothing else may be printed. It either
// - joins an existing sandbox: a CRI pod container (annotation io.kubernetes.cri.sandbox-id) gets
//   the address its sandbox's shim announced, so one pod is one shim and one VM; or
// - spawns the sandbox's server (this same program without an action): detached, in its own
//   session, with stdio that are not containerd's pipes (otherwise `ctr` waits for them forever),
//   and waits until it listens before answering.
// The answer is also written to bundle/address: containerd re-reads it after a restart.

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { installRoot, loadRuntimeConfig } from '@vfs/runtime-config';
import { serveArgv, type ShimFlags } from './flags';
import { readBundleSpec, sandboxIdOf } from './oci_spec';
import { bootstrapAnswer, chooseProtocol } from './protocol';
import { optionsFromStdin } from './runtime_options';
import { SandboxState } from './sandbox_state';
import { runDir, sandboxPaths } from './shim_paths';
import { Code, ShimError } from './shim_error';

const READY_TIMEOUT_MS = 10_000;

/** A bundle whose spec cannot be read is its own sandbox; Create reports the spec's problem. */
function sandboxOfBundle(bundle: string, id: string): string {
  try {
    return sandboxIdOf(readBundleSpec(bundle), id);
  } catch {
    return id;
  }
}

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The grpc setting, when the configuration loads; a broken one is reported at Create instead. */
function grpcSetting(configPath: string): boolean | 'auto' {
  try {
    return loadRuntimeConfig({ optionsConfigPath: configPath, root: installRoot() }).config.runtime.grpc;
  } catch {
    return 'auto';
  }
}

function waitReady(child: ReturnType<typeof spawn>): Promise<void> {
  const pipe = child.stdio[3] as Socket;
  return new Promise((resolve, reject) => {
    let message = '';
    const timer = setTimeout(
      () =>
        reject(new ShimError(Code.DeadlineExceeded, `the shim server did not listen within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      message += chunk;
    });
    pipe.once('close', () => {
      clearTimeout(timer);
      if (message === 'ready') resolve();
      else
        reject(
          new ShimError(
            Code.Internal,
            `the shim server failed to start: ${message || `exited (${child.exitCode ?? child.signalCode})`}`,
          ),
        );
    });
  });
}

async function spawnServer(
  flags: ShimFlags,
  configPath: string,
  state: SandboxState,
  answerFor: (protocol: 'ttrpc' | 'grpc') => string,
): Promise<string> {
  const protocol = await chooseProtocol(grpcSetting(configPath), process.env, flags.publishBinary);
  state.create();
  // The server's own stderr (crashes before its logger exists) goes to a file, never to containerd's pipe.
  const stderrFd = openSync(join(state.dir, 'shim.stderr'), 'a');
  const script = process.argv[1] as string;
  const child = spawn(process.execPath, [script, ...serveArgv(flags, configPath, protocol)], {
    cwd: flags.bundle,
    detached: true,
    stdio: ['ignore', 'ignore', stderrFd, 'pipe'],
  });
  closeSync(stderrFd);
  try {
    await waitReady(child);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  child.unref();
  (child.stdio[3] as Socket).destroy();
  return answerFor(protocol);
}

async function joinSandbox(
  sandboxId: string,
  containerId: string,
  socket: string,
  state: SandboxState,
): Promise<string> {
  const answer = state.readBootstrap();
  if (answer === undefined || !(await socketAnswers(socket))) {
    throw new ShimError(Code.NotFound, `container ${containerId}: sandbox ${sandboxId} has no running vfs shim`);
  }
  return answer;
}

/** Runs `start`; returns what to print. */
export async function start(flags: ShimFlags): Promise<string> {
  const stdinOptions = optionsFromStdin(readFileSync(0));
  const configPath = stdinOptions?.configPath ?? '';
  const sandboxId = sandboxOfBundle(flags.bundle, flags.id);
  const paths = sandboxPaths(runDir(), flags.namespace, sandboxId);
  const state = new SandboxState(paths.stateDir);
  let answer: string;
  if (sandboxId !== flags.id) {
    answer = await joinSandbox(sandboxId, flags.id, paths.socket, state);
  } else if (await socketAnswers(paths.socket)) {
    // containerd retried start for a sandbox whose shim already serves: same answer again.
    answer = await joinSandbox(sandboxId, flags.id, paths.socket, state);
  } else {
    answer = await spawnServer(flags, configPath, state, (protocol) => bootstrapAnswer(protocol, paths.socket));
    state.writeBootstrap(answer);
  }
  writeFileSync(join(flags.bundle, 'address'), answer);
  return answer;
}
