// Flags, the protocol choice and answer, runtime options on stdin, socket paths.

import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Any } from '@vfs/proto/gen/google/protobuf/any';
import { Options } from '@vfs/proto/gen/containerd/runtimeoptions/v1/api';
import { parseFlags } from './flags';
import { bootstrapAnswer, chooseProtocol, parseContainerdVersion } from './protocol';
import { chosenOptions, NO_RUNTIME_OPTIONS, optionsFromStdin } from './runtime_options';
import { sandboxPaths } from './shim_paths';

describe('flags', () => {
  it('parses containerd start and delete command lines', () => {
    const start = parseFlags(
      [
        '-namespace',
        'k8s.io',
        '-address',
        '/run/c.sock',
        '-publish-binary',
        '/usr/bin/containerd',
        '-id',
        'abc',
        '-debug',
        'start',
      ],
      '/b',
    );
    expect(start).toMatchObject({
      namespace: 'k8s.io',
      id: 'abc',
      bundle: '/b',
      debug: true,
      action: 'start',
    });
    expect(parseFlags(['-namespace=n', '-id', 'x', '-bundle', '/x', 'delete']).bundle).toBe('/x');
    expect(parseFlags(['--version']).action).toBe('version');
    expect(() => parseFlags(['-id', 'x', 'start'])).toThrow('flag -namespace is required for start');
    // The warm pool's spare: its own id only; containerd's flags come with the start that claims it.
    expect(parseFlags(['-id', '0123456789abcdef', 'spare'])).toMatchObject({ action: 'spare', id: '0123456789abcdef' });
    expect(() => parseFlags(['spare'])).toThrow('flag -id is required for spare');
    expect(() => parseFlags(['-namespace', 'n', '-id', 'x', '-bogus'])).toThrow('unknown flag -bogus');
  });

  it('refuses a command line without start or delete: the server is what start becomes', () => {
    expect(() => parseFlags(['-namespace', 'n', '-id', 'x'])).toThrow('no action (expected start or delete)');
    expect(() => parseFlags(['-namespace', 'n', '-id', 'x', 'serve'])).toThrow('unknown action "serve"');
  });
});

describe('protocol', () => {
  it('answers ttrpc with a unix:// address and gRPC with bootstrap JSON and a plain path', () => {
    expect(bootstrapAnswer('ttrpc', '/run/vfs/s/ab')).toBe('unix:///run/vfs/s/ab');
    expect(JSON.parse(bootstrapAnswer('grpc', '/run/vfs/s/ab'))).toEqual({
      version: 2,
      address: '/run/vfs/s/ab',
      protocol: 'grpc',
    });
  });

  it('chooses gRPC only when asked or for containerd 1.7', async () => {
    expect(parseContainerdVersion('containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6')).toEqual([
      1, 7,
    ]);
    expect(parseContainerdVersion('containerd containerd.io v2.1.9 abc')).toEqual([2, 1]);
    expect(await chooseProtocol('auto', {}, '/usr/bin/containerd')).toBe('ttrpc');
    expect(await chooseProtocol(true, {}, '')).toBe('grpc');
    expect(await chooseProtocol(false, { MAX_SHIM_VERSION: '2', GRPC_ADDRESS: '/x' }, '')).toBe('ttrpc');
  });
});

describe("containerd's version", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-containerd-version-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is asked once per binary and asked again when the binary changes', async () => {
    const binary = join(dir, 'containerd');
    const asked = join(dir, 'asked');
    const fake = (version: string) =>
      writeFileSync(
        binary,
        `#!/bin/sh\necho x >> ${asked}\necho "containerd github.com/containerd/containerd ${version} x"\n`,
        { mode: 0o755 },
      );
    const env = { MAX_SHIM_VERSION: '2', GRPC_ADDRESS: '/x', VFS_RUN_DIR: join(dir, 'run') };
    const times = () => readFileSync(asked, 'utf8').split('\n').length - 1;
    fake('1.7.24');
    expect(await chooseProtocol('auto', env, binary)).toBe('grpc');
    expect(await chooseProtocol('auto', env, binary)).toBe('grpc');
    expect(times()).toBe(1);
    fake('2.0.0-rc');
    utimesSync(binary, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    expect(await chooseProtocol('auto', env, binary)).toBe('ttrpc');
    expect(times()).toBe(2);
  });

  it('refuses a forced gRPC with containerd 2.x, whose gRPC shim client drops the connection, and takes it with 1.7', async () => {
    const binary = join(dir, 'containerd');
    const env = { MAX_SHIM_VERSION: '2', GRPC_ADDRESS: '/x', VFS_RUN_DIR: join(dir, 'run') };
    writeFileSync(binary, '#!/bin/sh\necho "containerd github.com/containerd/containerd/v2 2.1.9+unknown"\n', {
      mode: 0o755,
    });
    await expect(chooseProtocol(true, env, binary)).rejects.toThrow(
      /^\[runtime\] grpc = true: containerd 2\.1's gRPC shim client counts a new connection as closed/,
    );
    expect(await chooseProtocol(false, env, binary)).toBe('ttrpc');
    const older = join(dir, 'containerd-1.7');
    writeFileSync(older, '#!/bin/sh\necho "containerd github.com/containerd/containerd 1.7.24~ds1 x"\n', {
      mode: 0o755,
    });
    expect(await chooseProtocol(true, env, older)).toBe('grpc');
  });
});

describe('runtime options on stdin', () => {
  const options = Buffer.from(
    Options.encode({ typeUrl: '', configPath: '/etc/vfs/x.toml', configBody: Buffer.alloc(0) }).finish(),
  );

  it('reads a protobuf Any, bootstrap JSON, or nothing', () => {
    const any = Buffer.from(Any.encode({ typeUrl: 'runtimeoptions.v1.Options', value: options }).finish());
    expect(optionsFromStdin(any)?.configPath).toBe('/etc/vfs/x.toml');
    const json = Buffer.from(
      JSON.stringify({
        id: 'x',
        extensions: [{ type_url: 'runtimeoptions.v1.Options', value: options.toString('base64') }],
      }),
    );
    expect(optionsFromStdin(json)?.configPath).toBe('/etc/vfs/x.toml');
    expect(optionsFromStdin(Buffer.alloc(0))).toBeUndefined();
    const runc = Buffer.from(Any.encode({ typeUrl: 'containerd.runc.v1.Options', value: Buffer.alloc(0) }).finish());
    expect(optionsFromStdin(runc)).toBeUndefined();
  });

  it("takes Create's options when they name a configuration by path or body, else start's", () => {
    const started = { configPath: '/etc/vfs/start.toml', configBody: '' };
    expect(chosenOptions(started, undefined)).toBe(started);
    expect(chosenOptions(started, NO_RUNTIME_OPTIONS)).toBe(started);
    const body = { configPath: '', configBody: "ConfigPath = ''\n[hypervisor]\nvcpus = 2\n" };
    expect(chosenOptions(NO_RUNTIME_OPTIONS, body)).toBe(body);
    const path = { configPath: '/etc/vfs/create.toml', configBody: '' };
    expect(chosenOptions(started, path)).toBe(path);
  });
});

describe('socket paths', () => {
  it('hash namespace and sandbox into a short path', () => {
    const paths = sandboxPaths('/run/vfs', 'k8s.io', 'a'.repeat(64));
    expect(paths.socket).toMatch(/^\/run\/vfs\/s\/[0-9a-f]{32}$/);
    expect(() => sandboxPaths(`/tmp/${'d'.repeat(80)}`, 'n', 'x')).toThrow('longer than 107 bytes');
  });
});
