import { spawn } from 'node:child_process';
import { processTree } from './process_cpu';

test('processTree finds the roots, their children and their grandchildren, each once', async () => {
  const shell = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const grandchild = await new Promise<number>((resolve) => shell.stdout.once('data', (d) => resolve(Number(d))));
  try {
    const tree = processTree(process.pid);
    expect(tree[0]).toBe(process.pid);
    expect(tree).toEqual(expect.arrayContaining([shell.pid, grandchild]));
    const nested = processTree(1, shell.pid!);
    expect(nested).toEqual(expect.arrayContaining([shell.pid, grandchild, 1]));
    expect(new Set(nested).size).toBe(nested.length);
  } finally {
    process.kill(grandchild, 'SIGKILL');
    shell.kill('SIGKILL');
  }
});
