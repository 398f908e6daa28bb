// `ctr run --log-uri` through the real stack (containerd 1.6, ctr, our shim, a VM under TCG): the
// stdio URIs containerd passes for logs instead of FIFOs.
// - file:///path: stdout and stderr appended to the file (its directories created);
// - binary:///logger?k=v: containerd's logging-driver protocol, checked against
//   containerd's pkg/process/io.go: the logger gets args `k v`, env CONTAINER_ID and
//   CONTAINER_NAMESPACE, the container's stdout on fd 3, stderr on fd 4, and signals that it is
//   ready by closing fd 5 (or writing to it). The logger here is a shell script the test writes.
// Needs `make build runtime`.

import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useVmSuite } from '@vfs/harness/vm_suite';
import { expectNothingLeft, ok, sandboxDirs, VM_IMAGE, VM_RUNTIME, waitFor } from '@vfs/harness/vm_checks';

jest.setTimeout(180_000);

const NS = 'vfs-logs';
const SCRIPT = 'echo to-stdout; echo to-stderr >&2; echo more-stdout';

/** Copies fd 3 and fd 4 to files named by its `out` argument; closes fd 5 once both copies run. */
const LOGGER = `#!/bin/sh
[ "$1" = out ] || exit 2
prefix="$2"
echo "id=$CONTAINER_ID ns=$CONTAINER_NAMESPACE ttrpc=\${TTRPC_ADDRESS:-unset} argc=$#" > "$prefix.meta"
cat <&3 > "$prefix.stdout" 5>&- &
cat <&4 > "$prefix.stderr" 5>&- &
exec 5>&-
wait
echo done >> "$prefix.meta"
`;

function fileOnceContains(path: string, ...parts: string[]): Promise<string> {
  return waitFor(
    `${path} to hold ${parts.join(', ')}`,
    async () => {
      const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
      return parts.every((part) => text.includes(part)) ? text : undefined;
    },
    15_000,
  );
}

describe('log URIs with containerd 1.6', () => {
  const suite = useVmSuite('logs', NS);
  const { ctr } = suite;

  it('file://: appends stdout and stderr to the file, creating its directory', async () => {
    const log = join(suite.work, 'file-logs', 'nested', 'f1.log');
    const run = ok(
      await ctr(['run', '--rm', ...VM_RUNTIME, '--log-uri', `file://${log}`, VM_IMAGE, 'f1', 'sh', '-c', SCRIPT]),
    );
    expect(run.stdout).toBe('');
    const text = await fileOnceContains(log, 'to-stdout\n', 'more-stdout\n', 'to-stderr\n');
    expect(text.indexOf('to-stdout')).toBeLessThan(text.indexOf('more-stdout'));
    expect(
      text
        .split('\n')
        .filter((line) => line !== '')
        .sort(),
    ).toEqual(['more-stdout', 'to-stderr', 'to-stdout']);
    expect(readFileSync(log, 'utf8')).toBe(text);
  });

  it('binary://: runs the logger with the query as args, the ids in its env, stdout on fd 3 and stderr on fd 4', async () => {
    const logger = join(suite.work, 'logger.sh');
    writeFileSync(logger, LOGGER);
    chmodSync(logger, 0o755);
    const prefix = join(suite.work, 'b1');
    const run = ok(
      await ctr([
        'run',
        '--rm',
        ...VM_RUNTIME,
        '--log-uri',
        `binary://${logger}?out=${prefix}`,
        VM_IMAGE,
        'b1',
        'sh',
        '-c',
        SCRIPT,
      ]),
    );
    expect(run.stdout).toBe('');
    expect(await fileOnceContains(`${prefix}.stdout`, 'more-stdout\n')).toBe('to-stdout\nmore-stdout\n');
    expect(await fileOnceContains(`${prefix}.stderr`, 'to-stderr\n')).toBe('to-stderr\n');
    // suite.containerd gives the logger only these two variables (none of the shim's, like TTRPC_ADDRESS);
    // the logger ends by itself on EOF of both streams.
    expect(await fileOnceContains(`${prefix}.meta`, 'done')).toBe(`id=b1 ns=${NS} ttrpc=unset argc=2\ndone\n`);
  });

  it('leaves no process, mount, socket or state dir behind', async () => {
    await waitFor(
      'all sandboxes to go',
      async () => (sandboxDirs(suite.containerd, NS).length === 0 ? true : undefined),
      15_000,
    );
    expectNothingLeft(suite.containerd, NS);
  });
});
