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

function cgroupMount(): string | undefined {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .find((line) => line.split(' ')[1] === '/sys/fs/cgroup');
}

describe('the agent started on a host', () => {
  const before = cgroupMount();

  it.each([
    ['agent.js', [join(RUNTIME, 'agent.js'), '--port', '/dev/null']],
    ['its startup snapshot', ['--snapshot-blob', join(RUNTIME, 'agent.blob'), '--', '--port', '/dev/null']],
  ])('%s exits 2 with the reason and leaves /sys/fs/cgroup alone', (_what, args) => {
    const run = spawnSync(NODE, args, { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toMatch(/^vfs-agent: refusing to run: .*not a vfs guest/);
    expect(run.status).toBe(2);
    expect(cgroupMount()).toBe(before);
  });
});
