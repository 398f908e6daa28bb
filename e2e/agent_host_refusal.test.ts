/**
 * The built agent, started on this host by mistake (as `node agent.js` and as /init starts it,
 * from its startup snapshot), refuses before it opens its port or mounts anything: the host's
 * kernel command line has no vfs.mode=agent (agent/src/guest_only.ts).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@vfs/harness/repo';

const RUNTIME = join(REPO_ROOT, 'build', 'runtime');
const NODE = join(RUNTIME, 'node');
/** The V8 flags the blob was built with, as /init passes them (agent/runtime.mk). */
const SNAPSHOT_FLAGS = readFileSync(join(RUNTIME, 'agent.blob.flags'), 'utf8').trim().split(/\s+/);
/**
 * The blob was built on qemu-user's emulated CPU, which has no shadow stack (CET), for guests that
 * have none: a host CPU with one would refuse it (agent/runtime.mk). So it runs there here too.
 */
const SNAPSHOT_CPU = ['qemu-x86_64', '-cpu', 'max'];

function cgroupMount(): string | undefined {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .find((line) => line.split(' ')[1] === '/sys/fs/cgroup');
}

describe('the agent started on a host', () => {
  const before = cgroupMount();

  it.each([
    ['agent.js', [NODE, join(RUNTIME, 'agent.js'), '--port', '/dev/null']],
    [
      'its startup snapshot',
      [
        ...SNAPSHOT_CPU,
        NODE,
        ...SNAPSHOT_FLAGS,
        '--snapshot-blob',
        join(RUNTIME, 'agent.blob'),
        '--',
        '--port',
        '/dev/null',
      ],
    ],
  ])('%s exits 2 with the reason and leaves /sys/fs/cgroup alone', (_what, [program = '', ...args]) => {
    const run = spawnSync(program, args, { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toMatch(/^vfs-agent: refusing to run: .*not a vfs guest/);
    expect(run.status).toBe(2);
    expect(cgroupMount()).toBe(before);
  });
});
