// init.sh's start_agent, run by the busybox sh the guest runs it with. An agent that exits at once
// (node refusing agent.blob with 14) must still report its status, or /init skips the fallback to
// agent.js and powers the VM off: ash can reap such a child before the function looks at it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostPrograms } from '@vfs/harness/host_programs';

const BUSYBOX = '/bin/busybox';
const RUNS = 500;

/** start_agent as init.sh defines it: from its `start_agent() {` to the `}` in column 0. */
function startAgentFunction(): string {
  const text = readFileSync(join(__dirname, 'init.sh'), 'utf8');
  const found = /^start_agent\(\) \{\n[\s\S]*?^\}/m.exec(text);
  if (found === null) throw new Error('init.sh defines no start_agent');
  return found[0];
}

describe("init.sh's start_agent", () => {
  hostPrograms(BUSYBOX).it('reports the exit status of an agent that exits at once, every time', () => {
    const script = [
      startAgentFunction(),
      'exits_14() { exit 14; }',
      'i=0',
      `while [ $i -lt ${RUNS} ]; do start_agent exits_14; echo "$rc"; i=$((i + 1)); done`,
    ].join('\n');
    const statuses = execFileSync(BUSYBOX, ['sh', '-c', script], { encoding: 'utf8' }).trim().split('\n');
    const counts = new Map<string, number>();
    for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ '14': RUNS });
  });
});
