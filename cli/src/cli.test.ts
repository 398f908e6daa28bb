import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VFS_VERSION } from '@vfs/contracts';
import { captureIo } from '../test_support/capture_io';
import { runCli } from './cli';
import { USAGE } from './usage';

describe('vfs-runtime', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const captured = captureIo({ PATH: process.env.PATH, VFS_ROOT: '/opt/vfs', ...env });
    const status = await runCli(argv, captured.io);
    return { status, stdout: captured.stdout(), stderr: captured.stderr() };
  };

  it('prints the help text and the version', async () => {
    await expect(run(['--help'])).resolves.toEqual({ status: 0, stdout: USAGE, stderr: '' });
    await expect(run(['--version'])).resolves.toEqual({
      status: 0,
      stdout: `vfs-runtime ${VFS_VERSION}\n`,
      stderr: '',
    });
  });

  it('answers a usage mistake on stderr with a pointer to --help, and exit status 1', async () => {
    await expect(run(['volume', 'shrink'])).resolves.toEqual({
      status: 1,
      stdout: '',
      stderr:
        "vfs-runtime: volume: unknown action 'shrink' (add, remove, list)\nvfs-runtime: 'vfs-runtime --help' lists the commands\n",
    });
  });

  it('env prints the configuration $VFS_CONFIG names, with paths against the install root', async () => {
    const config = join(dir, 'configuration.toml');
    writeFileSync(config, '[hypervisor]\nvcpus = 2\n[daemon]\ncache = "always"\n');
    const { status, stdout } = await run(['env', '--json'], { VFS_CONFIG: config });
    expect(status).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.Runtime).toMatchObject({ Version: VFS_VERSION, ConfigSource: `VFS_CONFIG=${config}` });
    expect(report.Daemon).toEqual({ Path: '/opt/vfs/build/bin/vfs-virtiofsd', Cache: 'always', Sandbox: 'namespace' });
    expect(report.Configuration.hypervisor.vcpus).toBe(2);
  });

  it('env fails with the configuration’s error', async () => {
    const config = join(dir, 'configuration.toml');
    writeFileSync(config, '[hypervisor]\nvcpu = 2\n');
    const { status, stdout, stderr } = await run(['env'], { VFS_CONFIG: config });
    expect({ status, stdout }).toEqual({ status: 1, stdout: '' });
    expect(stderr).toMatch(new RegExp(`^vfs-runtime: .*${config}:2.*hypervisor\\.vcpu.*unknown key`));
  });
});
