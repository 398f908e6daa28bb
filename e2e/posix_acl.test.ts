// [daemon] posix_acl in a real guest, through containerd, our shim and a container's volume: the
// guest kernel enforces a host file's ACL (a user the ACL names reads a file its mode keeps from
// it), and a file the container makes in a directory with a default ACL takes that ACL rather
// than the container's umask, as under runc. Without it the guest sees only the mode bits. Real
// containerd 1.6 + ctr, our shim, QEMU q35 under TCG. Needs `make build runtime`.

import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleCli } from '@vfs/harness/bundles';
import { hostPrograms } from '@vfs/harness/host_programs';
import { useVmSuite } from '@vfs/harness/vm_suite';
import { expectNothingLeft, ok, taskIs, VM_IMAGE, VM_RUNTIME, waitFor } from '@vfs/harness/vm_checks';

jest.setTimeout(300_000);

const NS = 'vfs-acl';

/** `asuser UID CMD…`: runs CMD as UID (gid the same, no supplementary groups); busybox has no such applet. */
const AS_USER = `
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  unsigned id = (unsigned)atoi(argv[1]);
  if (setgroups(0, NULL) || setgid(id) || setuid(id)) { perror("asuser"); return 2; }
  execv(argv[2], argv + 2);
  perror("asuser: execv");
  return 2;
}
`;
const acl = hostPrograms('getfacl', 'setfacl');

acl.describe('POSIX ACLs on a volume', () => {
  const suite = useVmSuite('acl', NS, 180_000);
  const { ctr } = suite;

  /** A volume with a root-only file its ACL lets uid 1000 read, and a directory with a default ACL. */
  const volume = (name: string): string => {
    const vol = join(suite.work, name);
    mkdirSync(join(vol, 'inherit'), { recursive: true });
    writeFileSync(join(vol, 'asuser.c'), AS_USER);
    const cc = spawnSync('gcc', ['-static', '-O1', '-o', join(vol, 'asuser'), join(vol, 'asuser.c')], {
      encoding: 'utf8',
    });
    if (cc.status !== 0) throw new Error(`gcc asuser.c failed: ${cc.stderr}`);
    chmodSync(vol, 0o755);
    writeFileSync(join(vol, 'secret'), 'for uid 1000\n', { mode: 0o600 });
    execFileSync('setfacl', ['-m', 'u:1000:r', join(vol, 'secret')]);
    execFileSync('setfacl', ['-d', '-m', 'u::rwx,u:1234:rwx,g::r-x,o::---', join(vol, 'inherit')]);
    return vol;
  };

  const configFile = (id: string, on: boolean): string => {
    const config = join(suite.work, `${id}.toml`);
    writeFileSync(config, `[daemon]\nposix_acl = ${on}\n`);
    return config;
  };

  /** `sh -c script` as root in a container of its own on the volume, under `[daemon]` posix_acl = on. */
  const run = (vol: string, on: boolean, id: string, script: string) => {
    const config = configFile(id, on);
    return ctr([
      'run',
      '--rm',
      ...VM_RUNTIME,
      '--runtime-config-path',
      config,
      '--mount',
      `type=bind,src=${vol},dst=/data,options=rbind:rw`,
      VM_IMAGE,
      id,
      'sh',
      '-c',
      script,
    ]);
  };

  afterAll(() => expectNothingLeft(suite.containerd, NS));

  it('with posix_acl, uid 1000 reads the file its ACL grants, and a new file takes the default ACL', async () => {
    const vol = volume('on');
    const read = await run(vol, true, 'acl-read', '/data/asuser 1000 /bin/cat /data/secret');
    expect(read).toMatchObject({ code: 0, stdout: 'for uid 1000\n' });
    const made = await run(vol, true, 'acl-make', 'umask 077; touch /data/inherit/made');
    expect(made).toMatchObject({ code: 0 });
    // touch asks 0666: the default ACL's mask (the group bits) shows, not the umask's 0600.
    expect(statSync(join(vol, 'inherit', 'made')).mode & 0o777).toBe(0o660);
    expect(execFileSync('getfacl', ['--omit-header', join(vol, 'inherit', 'made')], { encoding: 'utf8' })).toContain(
      'user:1234:rwx\t#effective:rw-',
    );
  });

  it('with posix_acl, a volume hot-plugged into a running container (vfs-runtime volume add) enforces and inherits ACLs too', async () => {
    const vol = volume('hot');
    const id = 'acl-hot';
    ok(
      await ctr([
        'run',
        '-d',
        ...VM_RUNTIME,
        '--runtime-config-path',
        configFile(id, true),
        VM_IMAGE,
        id,
        'sleep',
        '600',
      ]),
    );
    try {
      await waitFor(`${id} to run`, () => taskIs(ctr, id, 'RUNNING'));
      const cli = bundleCli();
      const added = await new Promise<{ code: number; out: string }>((resolve) =>
        execFile(
          process.execPath,
          [cli, 'volume', 'add', '--namespace', NS, '--id', id, '--source', vol, '--target', '/hot'],
          { env: { ...process.env, VFS_RUN_DIR: suite.containerd.runDir }, timeout: 120_000 },
          (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, out: stdout + stderr }),
        ),
      );
      expect(added).toMatchObject({ code: 0 });
      const exec = (execId: string, ...argv: string[]) => ctr(['task', 'exec', '--exec-id', execId, id, ...argv]);
      expect(await exec('read', '/hot/asuser', '1000', '/bin/cat', '/hot/secret')).toMatchObject({
        code: 0,
        stdout: 'for uid 1000\n',
      });
      ok(await exec('make', 'sh', '-c', 'umask 077; touch /hot/inherit/made'));
      expect(statSync(join(vol, 'inherit', 'made')).mode & 0o777).toBe(0o660);
    } finally {
      await ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await waitFor(`${id} to stop`, () => taskIs(ctr, id, 'STOPPED'));
      ok(await ctr(['task', 'rm', id]));
      ok(await ctr(['container', 'rm', id]));
    }
  });

  it('without it, the guest sees the mode bits only: the read is refused and the umask applies', async () => {
    const vol = volume('off');
    const read = await run(vol, false, 'noacl-read', '/data/asuser 1000 /bin/cat /data/secret');
    expect(read.code).not.toBe(0);
    expect(read.stderr + read.stdout).toMatch(/Permission denied/);
    expect((await run(vol, false, 'noacl-make', 'umask 077; touch /data/inherit/made')).code).toBe(0);
    expect(statSync(join(vol, 'inherit', 'made')).mode & 0o777).toBe(0o600);
  });
});
