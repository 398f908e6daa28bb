// Kata's VM template ([factory] enable_template) through the real stack: containerd 1.6, ctr, our
// shim, QEMU under TCG. `vfs-runtime template create` boots a VM and saves it; each new sandbox
// resumes a copy of it instead of booting (QEMU runs with `-incoming defer` and the copy as its
// RAM, a memfd), with the host's clock, its state copy removed once QEMU loaded it. A template
// saved under another configuration is not used, and removing it leaves nothing behind.
// Needs `make build runtime`.

import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PrivateContainerd, type CtrResult } from '@vfs/harness/containerd';
import { buildBusyboxImage } from '@vfs/harness/oci_image';
import { tmpfsMayUseHugePages } from '@vfs/harness/tmpfs_huge_pages';
import { bundleCli, bundleShim } from '@vfs/harness/bundles';
import { expectNothingLeft, ok, recordedPid, taskIs, VM_IMAGE, VM_RUNTIME, waitFor } from '@vfs/harness/vm_checks';

jest.setTimeout(300_000);

const NS = 'vfs-template';
const TEMPLATE_AGE_MS = 8000;
const CLOCK_MARGIN_S = 3;

/**
 * The saved RAM holds only pages with data: the file's allocated bytes are exactly its non-zero
 * pages (a page of zeros left in it would count as allocated, a hole reads as zeros).
 */
function expectZeroPagesAreHoles(memory: string): void {
  const page = 4096;
  const zero = Buffer.alloc(page);
  const buf = Buffer.alloc(1024 * page);
  const fd = openSync(memory, 'r');
  let nonZero = 0;
  try {
    for (let offset = 0, read = 1; read > 0; offset += read) {
      read = readSync(fd, buf, 0, buf.length, offset);
      for (let at = 0; at < read; at += page) if (!buf.subarray(at, at + page).equals(zero)) nonZero++;
    }
  } finally {
    closeSync(fd);
  }
  expect(nonZero).toBeGreaterThan(1000);
  expect(statSync(memory).blocks * 512).toBe(nonZero * page);
}

function config(templatePath: string, extra = ''): string {
  return `[factory]\nenable_template = true\ntemplate_path = "${templatePath}"\n${extra}`;
}

describe('VM templates with containerd 1.6', () => {
  let work: string;
  let templatePath: string;
  let configPath: string;
  let containerd: PrivateContainerd;
  const ctr = (args: readonly string[]): Promise<CtrResult> =>
    containerd.ctr(args, { namespace: NS, timeoutMs: 120_000 });
  const cli = (args: readonly string[], configFile = configPath) => {
    const run = spawnSync(bundleCli(), args, {
      env: { ...process.env, VFS_CONFIG: configFile, VFS_RUN_DIR: containerd.runDir },
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (run.status !== 0) throw new Error(`vfs-runtime ${args.join(' ')}: ${run.status}\n${run.stderr}`);
    return run.stdout;
  };
  const qemuArgs = (id: string): string[] =>
    readFileSync(`/proc/${recordedPid(containerd, NS, id, 'qemu')}/cmdline`, 'utf8').split('\0');
  const stop = async (id: string): Promise<void> => {
    ok(await ctr(['task', 'kill', '-s', 'SIGKILL', id]));
    await waitFor(`${id} to stop`, () => taskIs(ctr, id, 'STOPPED'));
    ok(await ctr(['task', 'rm', id]));
    ok(await ctr(['container', 'rm', id]));
  };

  beforeAll(async () => {
    bundleShim();
    work = mkdtempSync('/tmp/vfs-e2e-template-');
    // On tmpfs, as the template's RAM must be.
    templatePath = `/dev/shm/vfs-e2e-template-${randomBytes(4).toString('hex')}`;
    configPath = join(work, 'vfs.toml');
    writeFileSync(configPath, config(templatePath));
    containerd = await PrivateContainerd.start({ env: { VFS_CONFIG: configPath } });
    ok(await ctr(['images', 'import', buildBusyboxImage(work, VM_IMAGE)]));
  });

  afterAll(async () => {
    await containerd?.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(templatePath, { recursive: true, force: true });
  });

  it('resumes each sandbox from the saved template, with the host clock', async () => {
    expect(cli(['template', 'create'])).toMatch(/MiB held/);
    const { generation } = JSON.parse(readFileSync(join(templatePath, 'template.json'), 'utf8')) as {
      generation: string;
    };
    // Counted page by page: a tmpfs with huge pages may zero a punched page instead of freeing it.
    if (!tmpfsMayUseHugePages(templatePath)) expectZeroPagesAreHoles(join(templatePath, generation, 'memory'));
    expect(cli(['template', 'status'])).toContain('new sandboxes resume it');
    // The template's guest clock stops while it is saved: a resumed guest would lag by this wait
    // and more. Under TCG on a loaded host a guest's clock also falls behind by a second or two
    // between CreateSandbox, which sets it, and the exec: hence the margin, well inside the lag.
    await new Promise((resolve) => setTimeout(resolve, TEMPLATE_AGE_MS));

    for (const id of ['clone-a', 'clone-b']) {
      ok(await ctr(['run', '-d', ...VM_RUNTIME, VM_IMAGE, id, 'sleep', '600']));
      await waitFor(`${id} to run`, () => taskIs(ctr, id, 'RUNNING'));
      const args = qemuArgs(id);
      expect(args.join(' ')).toContain('-incoming defer');
      // The RAM copy is a memfd QEMU inherited, not a file anyone else could reach.
      expect(args.join(' ')).toContain('memory-backend-file,id=mem,size=512M,mem-path=/proc/self/fd/3,share=on');
      const before = Math.floor(Date.now() / 1000);
      const date = ok(await ctr(['task', 'exec', '--exec-id', 'd', id, 'date', '+%s']));
      const after = Math.ceil(Date.now() / 1000);
      const guest = Number(date.stdout.trim());
      expect(guest).toBeGreaterThanOrEqual(before - CLOCK_MARGIN_S);
      expect(guest).toBeLessThanOrEqual(after + CLOCK_MARGIN_S);
    }
    // Each copy went once its QEMU held it.
    expect(readdirSync(join(templatePath, 'clones'))).toEqual([]);
    await stop('clone-a');
    await stop('clone-b');
    expectNothingLeft(containerd, NS);
  });

  it('is not used by a sandbox of another configuration, which boots', async () => {
    const other = join(work, 'other.toml');
    writeFileSync(other, config(templatePath, '[hypervisor]\nmemory_mib = 384\n'));
    expect(cli(['template', 'status'], other)).toContain('another configuration');
    ok(await ctr(['run', '-d', ...VM_RUNTIME, '--runtime-config-path', other, VM_IMAGE, 'booted', 'sleep', '600']));
    await waitFor('booted to run', () => taskIs(ctr, 'booted', 'RUNNING'));
    expect(qemuArgs('booted')).not.toContain('-incoming');
    await stop('booted');
  });

  it('is gone after template remove, and sandboxes boot again', async () => {
    expect(cli(['template', 'remove'])).toContain('removed');
    expect(existsSync(templatePath)).toBe(false);
    ok(await ctr(['run', '--rm', ...VM_RUNTIME, VM_IMAGE, 'after', 'true']));
    expect(readFileSync(containerd.logPath, 'utf8')).toContain('no template in');
    expectNothingLeft(containerd, NS);
  });
});
