// Docker's bridge network (dockerd 26 as tested): the spec asks for a new network namespace (no
// path) and carries libnetwork's `libnetwork-setkey` prestart hook, which tells dockerd the
// container's netns (`/proc/<state.pid>/ns/net`) so that it moves the container's veth there. runc
// runs that hook with its init's pid; the VM has no host process of its own yet, so the shim makes
// the netns (`ip netns add`), runs the hook with a placeholder process inside it, and then treats
// that netns as a CNI pod's. Only this hook is run: other host hooks are not vfs's to run.

import { execFile, spawn } from 'node:child_process';
import { existsSync, readlinkSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { errorMessage, isPlainObject } from '@vfs/contracts';
import type { ShimSpec } from '../oci_spec';
import { SandboxError } from '../sandbox_error';

const run = promisify(execFile);
const HOOK_TIMEOUT_MS = 30_000;
const NETNS_DIR = '/var/run/netns';

export interface OciHook {
  readonly path: string;
  readonly args: readonly string[];
  readonly env: readonly string[];
}

function hookOf(value: unknown): OciHook | undefined {
  if (!isPlainObject(value) || typeof value.path !== 'string') return undefined;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  return { path: value.path, args: strings(value.args), env: strings(value.env) };
}

/** libnetwork's setkey hook, when the spec makes its own netns and dockerd fills it. */
export function libnetworkHook(spec: ShimSpec): OciHook | undefined {
  const network = spec.linux?.namespaces?.find((ns) => ns.type === 'network');
  if (network === undefined || network.path !== undefined) return undefined;
  const hooks = 'hooks' in spec && isPlainObject(spec.hooks) ? spec.hooks : {};
  const candidates = [hooks.prestart, hooks.createRuntime].flatMap((list) => (Array.isArray(list) ? list : []));
  return candidates.map(hookOf).find((hook) => hook?.args.includes('libnetwork-setkey'));
}

/** The netns name the shim makes for a container: within the 255-byte file name, unique per container. */
export function dockerNetnsName(containerId: string): string {
  return `vfs-${containerId}`;
}

/**
 * The spec the agent gets for a container whose netns the shim made: its network entry names that
 * netns, so the guest shares the VM's network (namespaces.ts in the agent) instead of making an
 * empty one, as it would for a spec that asks for a new netns.
 */
export function joinSandboxNetwork(specJson: string, netnsPath: string): string {
  const spec = JSON.parse(specJson) as { linux?: { namespaces?: { type: string; path?: string }[] } };
  for (const ns of spec.linux?.namespaces ?? []) {
    if (ns.type === 'network') ns.path = netnsPath;
  }
  return JSON.stringify(spec);
}

/** The path of the netns the shim makes for a Docker container. */
export function dockerNetnsPath(containerId: string): string {
  return `${NETNS_DIR}/${dockerNetnsName(containerId)}`;
}

/** Runs the hook as runc would: argv from `args`, the container's OCI state on stdin. */
function runHook(hook: OciHook, state: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const [argv0, ...args] = hook.args;
    const child = spawn(hook.path, args, {
      argv0,
      env: Object.fromEntries(hook.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: HOOK_TIMEOUT_MS,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`exited with ${code ?? signal}: ${stderr.trim()}`));
    });
    child.stdin.end(JSON.stringify(state));
  });
}

const HOLDER_WAIT_MS = 5000;

/** The placeholder's pid once it is inside the netns (nsenter enters it, then execs sleep). */
async function inNetnsPid(pid: number | undefined, path: string): Promise<number> {
  if (pid === undefined) throw new Error('the netns placeholder did not start');
  const want = `net:[${statSync(path).ino}]`;
  const deadline = Date.now() + HOLDER_WAIT_MS;
  for (;;) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) === want) return pid;
    } catch {
      // Not started yet, or gone: the deadline decides.
    }
    if (Date.now() > deadline) throw new Error(`the netns placeholder ${pid} never entered ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface DockerNetns {
  readonly path: string;
  /** Deletes the netns (and with it whatever dockerd moved in); idempotent. */
  remove(): Promise<void>;
}

/** Makes the container's netns and has dockerd fill it through the hook. */
export async function dockerNetns(hook: OciHook, containerId: string, bundle: string): Promise<DockerNetns> {
  const name = dockerNetnsName(containerId);
  try {
    await run('ip', ['netns', 'add', name]);
  } catch (err) {
    throw new SandboxError('host-failure', `docker network: cannot make netns ${name}: ${errorMessage(err)}`);
  }
  let removed: Promise<void> | undefined;
  const remove = () => {
    removed ??= run('ip', ['netns', 'del', name]).then(() => undefined);
    return removed;
  };
  // A process in the netns for libnetwork's /proc/<pid>/ns/net; it only has to live through the hook.
  const path = dockerNetnsPath(containerId);
  const holder = spawn('nsenter', [`--net=${path}`, '--', 'sleep', '60'], { stdio: 'ignore' });
  try {
    const pid = await inNetnsPid(holder.pid, path);
    const state = { ociVersion: '1.0.2', id: containerId, status: 'creating', pid, bundle, annotations: {} };
    await runHook(hook, state);
    return { path, remove };
  } catch (err) {
    await remove().catch(() => undefined);
    throw new SandboxError('host-failure', `docker network: the libnetwork-setkey hook failed: ${errorMessage(err)}`);
  } finally {
    holder.kill('SIGKILL');
  }
}

/** `delete` after a shim died: the netns it made for a Docker container, if it is still there. */
export async function removeLeftoverDockerNetns(containerId: string): Promise<void> {
  if (!existsSync(dockerNetnsPath(containerId))) return;
  await run('ip', ['netns', 'del', dockerNetnsName(containerId)]);
}
