import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, defaultConfig, GUEST_RUNTIMES, guestRuntime, loadRuntimeConfig, parseConfig } from '.';
import { findKeyLine } from './key_position';

const SHIPPED = resolve(__dirname, '..', 'configuration.toml');

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('reads the shipped configuration.toml as exactly the built-in defaults', () => {
    expect(parseConfig(readFileSync(SHIPPED, 'utf8'), SHIPPED)).toEqual(defaultConfig());
  });

  it('reads every kind of value', () => {
    const config = parseConfig(
      '[hypervisor]\nmachine = "q35"\nvcpus = 2\n[daemon]\ncache = "none"\n[runtime]\ngrpc = true\n',
      'x.toml',
    );
    expect(config.hypervisor.machine).toBe('q35');
    expect(config.hypervisor.vcpus).toBe(2);
    expect(config.daemon.cache).toBe('none');
    expect(config.runtime.grpc).toBe(true);
    expect(config.agent.dial_timeout_ms).toBe(30000);
  });

  it('names file, line and key of an unknown key', () => {
    const err = configError(() => parseConfig('[hypervisor]\nvcpus = 1\n\n[daemon]\ncahce = "auto"\n', '/etc/x.toml'));
    expect(err.file).toBe('/etc/x.toml');
    expect(err.line).toBe(5);
    expect(err.key).toBe('daemon.cahce');
    expect(err.message).toMatch(
      /^vfs config \/etc\/x\.toml:5: key daemon\.cahce: unknown key \(known keys of \[daemon\]: path, cache/,
    );
  });

  it('finds the key in its own table, not a same-named key of another table', () => {
    const err = configError(() => parseConfig('[daemon]\npath = "x"\n[hypervisor]\npath = 3\n', 'f.toml'));
    expect(err.key).toBe('hypervisor.path');
    expect(err.line).toBe(4);
    expect(err.problem).toBe('must be a non-empty path string, not number 3');
  });

  it('names an unknown table at its header', () => {
    const err = configError(() => parseConfig('# c\n\n[hypervisr]\nvcpus = 1\n', 'f.toml'));
    expect(err.line).toBe(3);
    expect(err.key).toBe('hypervisr');
  });

  it('rejects wrong types and out-of-range values with the expected form', () => {
    expect(configError(() => parseConfig('[hypervisor]\nvcpus = "2"\n', 'f')).message).toBe(
      'vfs config f:2: key hypervisor.vcpus: must be an integer from 1 to 256, not string "2"',
    );
    expect(configError(() => parseConfig('[hypervisor]\nmemory_mib = 1.5\n', 'f')).line).toBe(2);
    expect(configError(() => parseConfig('[hypervisor]\naccel = "hvf"\n', 'f')).problem).toBe(
      'must be one of "auto", "kvm", "tcg", not string "hvf"',
    );
    expect(configError(() => parseConfig('[runtime]\ngrpc = "yes"\n', 'f')).problem).toBe(
      'must be true, false or "auto", not string "yes"',
    );
    expect(configError(() => parseConfig('hypervisor = 3\n', 'f')).problem).toBe('must be a table, not number 3');
  });

  it("reclaims guest-freed memory by default, under Kata's key, and takes only a boolean", () => {
    expect(defaultConfig().hypervisor.reclaim_guest_freed_memory).toBe(true);
    expect(
      parseConfig('[hypervisor]\nreclaim_guest_freed_memory = false\n', 'f').hypervisor.reclaim_guest_freed_memory,
    ).toBe(false);
    expect(configError(() => parseConfig('[hypervisor]\nreclaim_guest_freed_memory = "on"\n', 'f')).message).toBe(
      'vfs config f:2: key hypervisor.reclaim_guest_freed_memory: must be true or false, not string "on"',
    );
  });

  it('takes the guest runtime as "auto" by default, the image when asked, and nothing else', () => {
    expect(defaultConfig().agent.runtime).toBe('auto');
    expect(parseConfig('[agent]\nruntime = "image"\n', 'f').agent.runtime).toBe('image');
    expect(configError(() => parseConfig('[agent]\nruntime = "disk"\n', 'f')).problem).toBe(
      'must be one of "auto", "share", "image", "pmem", not string "disk"',
    );
  });

  it('takes the runtime from pmem only on q35, and says why on the microvm machines', () => {
    const pmemOn = (machine: string): string => `[hypervisor]\nmachine = "${machine}"\n\n[agent]\nruntime = "pmem"\n`;
    expect(parseConfig(pmemOn('q35'), 'f').agent.runtime).toBe('pmem');
    for (const machine of ['microvm', 'microvm-pcie']) {
      const err = configError(() => parseConfig(pmemOn(machine), 'f.toml'));
      expect(err.message).toBe(
        `vfs config f.toml:5: key agent.runtime: "pmem" needs [hypervisor] machine = "q35", not "${machine}" (QEMU 7.2 maps virtio-pmem memory devices only on q35); use runtime = "image" or "share" on microvm`,
      );
    }
    expect(parseConfig('[agent]\nruntime = "pmem"\n', 'f').agent.runtime).toBe('pmem');
  });

  it('resolves runtime "auto", the default, to pmem on q35 (the default machine) and the share on microvm', () => {
    expect(defaultConfig().agent.runtime).toBe('auto');
    expect(guestRuntime(defaultConfig())).toBe('pmem');
    for (const machine of ['microvm', 'microvm-pcie']) {
      expect(guestRuntime(parseConfig(`[hypervisor]\nmachine = "${machine}"\n`, 'f'))).toBe('share');
    }
    for (const runtime of GUEST_RUNTIMES) {
      const config = parseConfig(`[hypervisor]\nmachine = "q35"\n\n[agent]\nruntime = "${runtime}"\n`, 'f');
      expect(guestRuntime(config)).toBe(runtime);
    }
  });

  it('takes a DAX window that is a power of two, naming the key when it is not', () => {
    expect(defaultConfig().daemon.dax_window_mib).toBe(0);
    expect(parseConfig('[daemon]\ndax_window_mib = 256\n', 'f').daemon.dax_window_mib).toBe(256);
    const err = configError(() => parseConfig('[daemon]\ndax_window_mib = 96\n', 'f.toml'));
    expect(err.message).toBe(
      "vfs config f.toml:2: key daemon.dax_window_mib: 96 MiB is not a power of two (QEMU's DAX window is a PCI BAR)",
    );
  });

  it('refuses a DAX window on the microvm machines, whose shares have no PCI BAR, naming the key', () => {
    for (const machine of ['microvm', 'microvm-pcie']) {
      const source = `[hypervisor]\nmachine = "${machine}"\n\n[daemon]\ndax_window_mib = 256\n`;
      expect(configError(() => parseConfig(source, 'f.toml')).message).toBe(
        `vfs config f.toml:5: key daemon.dax_window_mib: DAX needs [hypervisor] machine = "q35", not "${machine}" (its shares are virtio-mmio devices, which have no PCI BAR for the window); set dax_window_mib = 0 or machine = "q35"`,
      );
    }
    expect(
      parseConfig('[hypervisor]\nmachine = "microvm"\n[daemon]\ndax_window_mib = 0\n', 'f').daemon.dax_window_mib,
    ).toBe(0);
  });

  it('takes a per-inode DAX threshold in KiB with a DAX window, 0 (every file) by default', () => {
    expect(defaultConfig().daemon.dax_min_file_kib).toBe(0);
    const config = parseConfig('[daemon]\ndax_window_mib = 256\ndax_min_file_kib = 2048\n', 'f');
    expect(config.daemon.dax_min_file_kib).toBe(2048);
  });

  it('takes a VM template only where its VM has no share to boot from, naming the key', () => {
    expect(defaultConfig().factory).toEqual({ enable_template: false, template_path: '/dev/shm/vfs-template' });
    expect(parseConfig('[factory]\nenable_template = true\n', 'f').factory.enable_template).toBe(true);
    const refused = (toml: string): string =>
      configError(() => parseConfig(`[factory]\nenable_template = true\n${toml}`, 'f.toml')).message;
    expect(refused('[hypervisor]\nmachine = "microvm"\n')).toBe(
      'vfs config f.toml:2: key factory.enable_template: a VM template needs [hypervisor] machine = "q35", not "microvm"',
    );
    expect(refused('[agent]\nruntime = "share"\n')).toMatch(
      /enable_template: a VM template needs \[agent\] runtime = "pmem" or "image"/,
    );
    expect(configError(() => parseConfig('[factory]\ntemplate_path = "/dev/shm/a b"\n', 'f.toml')).message).toMatch(
      /key factory.template_path: must be an absolute path of letters, digits and/,
    );
    expect(configError(() => parseConfig('[factory]\ntemplate_path = "shm/t"\n', 'f')).message).toMatch(
      /template_path: must be an absolute path/,
    );
    expect(refused('[daemon]\ndax_window_mib = 256\n')).toMatch(
      /enable_template: a VM template needs \[daemon\] dax_window_mib = 0/,
    );
  });

  it('refuses a per-inode DAX threshold without a DAX window, or a negative one, naming the key', () => {
    expect(configError(() => parseConfig('[daemon]\ndax_min_file_kib = 2048\n', 'f.toml')).message).toBe(
      'vfs config f.toml:2: key daemon.dax_min_file_kib: per-inode DAX needs a DAX window: set dax_window_mib > 0 (e.g. 256), or dax_min_file_kib = 0',
    );
    expect(
      configError(() => parseConfig('[daemon]\ndax_window_mib = 256\ndax_min_file_kib = -1\n', 'f')).message,
    ).toMatch(/key daemon.dax_min_file_kib: must be an integer from 0 to 67108864, not number -1/);
  });

  it('reads [daemon] uid/gid translation rules, none by default', () => {
    expect([defaultConfig().daemon.translate_uid, defaultConfig().daemon.translate_gid]).toEqual([[], []]);
    const config = parseConfig('[daemon]\ntranslate_uid = ["map:1000:101000:1", "forbid-guest:0:1"]\n', 'f');
    expect(config.daemon.translate_uid).toEqual(['map:1000:101000:1', 'forbid-guest:0:1']);
    expect(config.daemon.translate_gid).toEqual([]);
  });

  it('refuses a translation rule the daemon would refuse, naming the rule and the bad token', () => {
    const source = '[daemon]\ncache = "auto"\ntranslate_gid = ["map:1000:101000:1", "squash-guest:0:x:10"]\n';
    const err = configError(() => parseConfig(source, 'f.toml'));
    expect(err.message).toBe(
      "vfs config f.toml:3: key daemon.translate_gid: 'squash-guest:0:x:10': host id 'x' is not a number from 0 to 4294967295",
    );
    expect(
      configError(() => parseConfig('[daemon]\ntranslate_uid = ["map:0:1:10", "map:5:100:1"]\n', 'f')).problem,
    ).toBe("'map:5:100:1': guest ids [5, 6) overlap [0, 10) of 'map:0:1:10'");
    expect(configError(() => parseConfig('[daemon]\ntranslate_uid = "map:0:1:1"\n', 'f')).problem).toBe(
      'must be an array of rule strings such as ["map:1000:101000:1"], not string "map:0:1:1"',
    );
    expect(configError(() => parseConfig('[daemon]\ntranslate_uid = [1000]\n', 'f')).problem).toMatch(/not an array$/);
  });

  it('finds dotted keys and keys after multi-line strings', () => {
    expect(configError(() => parseConfig('hypervisor.vcpus = 0\n', 'f')).line).toBe(1);
    const source = '[hypervisor]\nkernel_params = """\nvcpus = 1\n"""\nvcpus = 0\n';
    expect(configError(() => parseConfig(source, 'f')).line).toBe(5);
  });

  it('reports TOML syntax errors with smol-toml position', () => {
    const err = configError(() => parseConfig('[hypervisor]\nvcpus = = 2\n', '/x/c.toml'));
    expect(err.line).toBe(2);
    expect(err.key).toBeUndefined();
    expect(err.message).toMatch(/^vfs config \/x\/c\.toml:2: TOML syntax error \(column \d+\): /);
  });
});

describe('findKeyLine', () => {
  it('handles quoted keys and headers with comments', () => {
    expect(findKeyLine('[ "daemon" ] # d\n"cache" = 1\n', ['daemon', 'cache'])).toBe(2);
    expect(findKeyLine('[daemon]\n# cache = 1\n', ['daemon', 'cache'])).toBeUndefined();
  });
});

describe('loadRuntimeConfig lookup order', () => {
  let dir: string;
  const root = '/opt/vfs';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function file(name: string, vcpus: number): string {
    const path = join(dir, name);
    writeFileSync(path, `[hypervisor]\nvcpus = ${vcpus}\n`);
    return path;
  }

  it('prefers runtime options config_path, then config_body, then VFS_CONFIG, then /etc, then defaults', () => {
    const options = file('options.toml', 2);
    const env = { VFS_CONFIG: file('env.toml', 3) };
    const system = file('system.toml', 4);
    const body = '[hypervisor]\nvcpus = 5\n';
    const at = (lookup: Parameters<typeof loadRuntimeConfig>[0]) => loadRuntimeConfig(lookup).config.hypervisor.vcpus;
    expect(at({ optionsConfigPath: options, optionsConfigBody: body, env, systemConfigPath: system, root })).toBe(2);
    expect(at({ optionsConfigBody: body, env, systemConfigPath: system, root })).toBe(5);
    expect(at({ optionsConfigPath: '', env, systemConfigPath: system, root })).toBe(3);
    expect(at({ env: {}, systemConfigPath: system, root })).toBe(4);
    const fallback = loadRuntimeConfig({ env: {}, systemConfigPath: join(dir, 'absent.toml'), root });
    expect(fallback.source).toBe('built-in defaults');
    expect(fallback.config.hypervisor.vcpus).toBe(1);
  });

  it('reads the options table containerd 1.7/2.x send as config_body: its tables are the configuration, its ConfigPath is not ours', () => {
    const env = { VFS_CONFIG: file('env.toml', 3) };
    const at = (body: string) => loadRuntimeConfig({ optionsConfigBody: body, env, root });
    // What containerd 2.1's CRI sends for `[….runtimes.vfs.options] ConfigPath = ""`.
    expect(at("ConfigPath = ''\n").source).toBe(`VFS_CONFIG=${env.VFS_CONFIG}`);
    expect(at("configPath = ''\n").source).toBe(`VFS_CONFIG=${env.VFS_CONFIG}`);
    const inline = at("ConfigPath = ''\n\n[hypervisor]\nvcpus = 6\n");
    expect(inline.source).toBe('runtime options config_body');
    expect(inline.config.hypervisor.vcpus).toBe(6);
    const err = configError(() => at("ConfigPath = ''\nMemory = 5\n"));
    expect(err.message).toMatch(/^vfs config runtime options config_body:2: key Memory: unknown table/);
  });

  it('requires a file named by runtime options or VFS_CONFIG to exist', () => {
    const missing = join(dir, 'missing.toml');
    const err = configError(() => loadRuntimeConfig({ optionsConfigPath: missing, env: {}, root }));
    expect(err.message).toBe(`vfs config ${missing}: file not found`);
    expect(configError(() => loadRuntimeConfig({ env: { VFS_CONFIG: missing }, root })).file).toBe(missing);
  });

  it('resolves relative paths against the install root and leaves bare binary names for PATH', () => {
    const { config } = loadRuntimeConfig({ env: {}, systemConfigPath: join(dir, 'absent.toml'), root });
    expect(config.hypervisor.kernel).toBe('/opt/vfs/build/guest/vmlinux');
    expect(config.hypervisor.initramfs).toBe('/opt/vfs/build/guest/initramfs.cpio.lz4');
    expect(config.daemon.path).toBe('/opt/vfs/build/bin/vfs-virtiofsd');
    expect(config.hypervisor.path).toBe('qemu-system-x86_64');
  });
});
