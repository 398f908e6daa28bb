// `start`: containerd runs it with the bundle as cwd and reads its stdout (merged with stderr) as
// the shim's address until that pipe closes. It either
// - joins an existing sandbox: a CRI pod container (annotation io.kubernetes.cri.sandbox-id) gets
//   the address its sandbox's shim announced, so one pod is one shim and one VM; or
// - becomes the sandbox's server itself: it listens, answers, and keeps running. One Node start,
//   not a bootstrap that spawns the server (ARCHITECTURE.md, 'The shim's start').
// The program's /bin/sh prologue (scripts/bundle.cjs SHIM_SHEBANG) makes the second possible: it
// runs Node in its own session with stdout and stderr in bundle/shim.stderr and the answer's pipe
// as fd 3, prints what arrives there once fd 3 closes, and shows shim.stderr when nothing did.
// The answer is also written to bundle/address: containerd re-reads it after a restart.

import { closeSync, fstatSync, writeFileSync, writeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { installRoot, loadRuntimeConfig } from '@vfs/runtime-config';
import type { ShimFlags } from './flags';
import { readBundleSpec, sandboxIdOf } from './oci_spec';
import { bootstrapAnswer, chooseProtocol } from './protocol';
import { NO_RUNTIME_OPTIONS, optionsFromStdin, type RuntimeOptions } from './runtime_options';
import type { SandboxRuntimeFactory } from './sandbox_runtime';
import { SandboxState } from './sandbox_state';
import { runDir, sandboxPaths } from './shim_paths';
import { Code, ShimError } from './shim_error';
import { within } from './within';

/** The answer's pipe, set up by the prologue. */
const ANSWER_FD = 3;
const READY_TIMEOUT_MS = 10_000;

/** Loads the sandbox runtime: only a `start` that serves needs it. */
export type SandboxRuntimeLoader = () => Promise<SandboxRuntimeFactory>;

/** What `start` told containerd, and whether this process now serves the sandbox. */
export interface Started {
  readonly answer: string;
  readonly serving: boolean;
}

/** A bundle whose spec cannot be read is its own sandbox; Create reports the spec's problem. */
function sandboxOfBundle(bundle: string, id: string): string {
  try {
    return sandboxIdOf(readBundleSpec(bundle), id);
  } catch {
    return id;
  }
}

/** A pod's container (CRI's sandbox-id annotation names another): its start joins that sandbox's shim. */
export function joinsAnotherSandbox(flags: ShimFlags): boolean {
  return sandboxOfBundle(flags.bundle, flags.id) !== flags.id;
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
function grpcSetting({ configPath, configBody }: RuntimeOptions): boolean | 'auto' {
  try {
    return loadRuntimeConfig({ optionsConfigPath: configPath, optionsConfigBody: configBody, root: installRoot() })
      .config.runtime.grpc;
  } catch {
    return 'auto';
  }
}

/** Node itself opens fds from 3 on (its event loop's epoll), so the pipe is told by its type. */
function answerPipeGiven(): boolean {
  try {
    return fstatSync(ANSWER_FD).isFIFO();
  } catch {
    return false; // EBADF: no fd 3 at all
  }
}

export function requireAnswerPipe(): void {
  if (!answerPipeGiven()) {
    throw new ShimError(
      Code.FailedPrecondition,
      `start needs its answer's pipe on fd ${ANSWER_FD}: run the program itself, whose /bin/sh prologue sets it up, not node with its file`,
    );
  }
}

/** Hands the answer to the prologue; once fd 3 closes, containerd has it. */
export function tellContainerd(answer: string): void {
  writeSync(ANSWER_FD, answer);
  closeSync(ANSWER_FD);
}

async function serveSandbox(
  flags: ShimFlags,
  options: RuntimeOptions,
  socket: string,
  loadRuntime: SandboxRuntimeLoader,
): Promise<string> {
  const [protocol, { serve }, factory] = await Promise.all([
    chooseProtocol(grpcSetting(options), process.env, flags.publishBinary),
    import('./serve.js'),
    loadRuntime(),
  ]);
  await serve({ flags, options, protocol }, factory);
  return bootstrapAnswer(protocol, socket);
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

/**
 * Runs `start` up to its answer, which the caller hands to containerd (tellContainerd, or a spare
 * shim through its claimant's stdout). `stdin` is what containerd wrote to start's stdin: the
 * runtime options.
 */
export async function start(flags: ShimFlags, loadRuntime: SandboxRuntimeLoader, stdin: Buffer): Promise<Started> {
  const options = optionsFromStdin(stdin) ?? NO_RUNTIME_OPTIONS;
  const sandboxId = sandboxOfBundle(flags.bundle, flags.id);
  const paths = sandboxPaths(runDir(), flags.namespace, sandboxId);
  const state = new SandboxState(paths.stateDir);
  let started: Started;
  if (sandboxId !== flags.id || (await socketAnswers(paths.socket))) {
    // A pod's container, or containerd retrying start for a sandbox whose shim already serves.
    started = { answer: await joinSandbox(sandboxId, flags.id, paths.socket, state), serving: false };
  } else {
    const answer = await within(
      serveSandbox(flags, options, paths.socket, loadRuntime),
      READY_TIMEOUT_MS,
      `the shim did not listen within ${READY_TIMEOUT_MS} ms`,
    );
    state.writeBootstrap(answer);
    started = { answer, serving: true };
  }
  writeFileSync(join(flags.bundle, 'address'), started.answer);
  return started;
}
