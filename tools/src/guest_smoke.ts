/**
 * `make guest-smoke`: one VM with the agent, `/bin/echo vfs-guest-ok` in a busybox container
 * through the agent's API, everything torn down, then one JSON line (the last line of output):
 * {"ok":…,"guest_kernel":…,"boot_to_init_ms":…,"agent_ready_ms":…,"run_ms":…,"agent_start_ms":…},
 * times from QEMU's launch except agent_start_ms (node's start → the agent serving, guest clock).
 * The make target bundles it into build/bin/guest-smoke; it finds the repository upwards from
 * there (@vfs/build/repo-root).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '@vfs/contracts';
import type { ReadStreamResponse } from '@vfs/proto/gen/agent/agent';
import { AgentVm } from '@vfs/harness/agent_vm';
import { buildBusyboxRootfs } from '@vfs/harness/busybox_rootfs';

const EXPECTED = 'vfs-guest-ok\n';
const SHARES_DIR = '/run/vfs/shares';

interface SmokeResult {
  readonly ok: boolean;
  readonly guest_kernel: string;
  readonly boot_to_init_ms: number;
  readonly agent_ready_ms: number;
  readonly run_ms: number;
  /** Guest clock: the agent's node process start → serving on the port. */
  readonly agent_start_ms?: number;
  readonly error?: string;
}

async function text(stream: AsyncIterable<ReadStreamResponse>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.data.toString('utf8');
  return out;
}

function prepare(root: string): void {
  buildBusyboxRootfs(join(root, 'lower'));
  mkdirSync(join(root, 'rw', 'upper'), { recursive: true });
  mkdirSync(join(root, 'rw', 'work'));
}

const SPEC = {
  ociVersion: '1.1.0',
  process: { user: { uid: 0, gid: 0 }, args: ['/bin/echo', 'vfs-guest-ok'], env: ['PATH=/bin'], cwd: '/' },
  root: { path: 'rootfs' },
  linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }] },
};

async function smoke(): Promise<SmokeResult> {
  const { vm, timings } = await AgentVm.start({
    prepare,
    exports: [
      { tag: 'lower0', dir: 'lower', readonly: true, cache: 'always' },
      { tag: 'rw', dir: 'rw', readonly: false, xattr: true },
    ],
  });
  try {
    const agent = vm.agent;
    await agent.createSandbox({
      sandboxId: 'smoke',
      hostname: 'smoke',
      shares: [
        { tag: 'lower0', mountPoint: `${SHARES_DIR}/lower0`, readonly: true },
        { tag: 'rw', mountPoint: `${SHARES_DIR}/rw`, readonly: false },
      ],
    });
    const id = { containerId: 'smoke', execId: '' };
    await agent.createContainer({
      containerId: 'smoke',
      ociSpecJson: Buffer.from(JSON.stringify(SPEC)),
      rootfs: {
        kind: {
          $case: 'overlay',
          overlay: {
            lower: [{ tag: 'lower0', path: '' }],
            upper: { tag: 'rw', path: 'upper' },
            work: { tag: 'rw', path: 'work' },
          },
        },
      },
    });
    const stdout = text(agent.readStdout(id));
    const stderr = text(agent.readStderr(id));
    await agent.startContainer({ containerId: 'smoke' });
    const exit = await agent.waitProcess(id);
    const [out, err] = await Promise.all([stdout, stderr]);
    const runMs = vm.sinceLaunch();
    const details = await agent.getGuestDetails({});
    await agent.removeContainer({ containerId: 'smoke' });
    await agent.destroySandbox({});
    const ok = exit.exitStatus === 0 && out === EXPECTED;
    return {
      ok,
      guest_kernel: details.kernelRelease,
      boot_to_init_ms: Math.round(timings.bootToInitMs),
      agent_ready_ms: Math.round(timings.agentReadyMs),
      run_ms: Math.round(runMs),
      agent_start_ms: Math.round((details.agentReadyNs - details.agentStartedNs) / 1e6),
      ...(ok ? {} : { error: `exit ${exit.exitStatus}, stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)}` }),
    };
  } finally {
    await vm.stop();
  }
}

smoke().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exitCode = result.ok ? 0 : 1;
  },
  (err: unknown) => {
    process.stderr.write(`guest-smoke: ${errorMessage(err)}\n`);
    const failed: SmokeResult = {
      ok: false,
      guest_kernel: '',
      boot_to_init_ms: 0,
      agent_ready_ms: 0,
      run_ms: 0,
      error: errorMessage(err).split('\n')[0],
    };
    process.stdout.write(`${JSON.stringify(failed)}\n`);
    process.exitCode = 1;
  },
);
