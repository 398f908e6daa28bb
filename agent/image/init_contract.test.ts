// init.sh is busybox sh, so it cannot import the guest boot contract (contracts/src/guest_boot.ts):
// this reads it as text and proves it speaks that contract, so a kernel-arg key, mode or console
// marker renamed on one side only fails here instead of in a booting VM.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AGENT_EXITED,
  AGENT_PORT_NAME,
  AGENT_SNAPSHOT_REFUSED,
  BOOT_ARG_KEYS,
  BOOT_MODES,
  bootArgs,
  DEFAULT_RUNTIME_TAG,
  GUEST_BUSYBOX,
  GUEST_MOUNTS,
  INIT_ERROR,
  INIT_MARKERS,
  RUNTIME_IMAGE_FS,
  RUNTIME_MOUNT,
  RUNTIME_PMEM_DEVICE,
  SCRIPT_EXIT,
  type BootArgs,
  type BootMode,
} from '@vfs/contracts';
import { BOOT_MARKS } from '../src/server/guest_details';

/** init.sh without its comment lines: its header restates the contract, which proves nothing. */
const CODE = readFileSync(join(__dirname, 'init.sh'), 'utf8')
  .split('\n')
  .filter((line) => !/^\s*#/.test(line))
  .join('\n');

function firstGroup(pattern: RegExp, text = CODE): string {
  const value = pattern.exec(text)?.[1];
  if (value === undefined) throw new Error(`init.sh has nothing matching ${pattern}`);
  return value;
}

function allFirstGroups(pattern: RegExp, text = CODE): string[] {
  return [...text.matchAll(pattern)].map((m) => m[1] as string);
}

const sorted = (values: readonly string[]): string[] => [...new Set(values)].sort();

/** The body of the shell function `name`, which init.sh closes with a `}` in column 0. */
function functionBody(name: string): string {
  return firstGroup(new RegExp(`^${name}\\(\\) \\{\\n([\\s\\S]*?)^\\}`, 'm'));
}

/** Modes init.sh acts on: the arms of `case "$mode"` (bar `*`) and `[ "$mode" = X ]` tests. */
function modesHandled(): string[] {
  const arms = allFirstGroups(/^\s*(\w+)\)/gm, firstGroup(/case "\$mode" in\n([\s\S]*?)\n\s*esac/));
  return sorted([...arms, ...allFirstGroups(/"\$mode" = (\w+)/g)]);
}

/** One sample per mode; a mode without a BootArgs shape leaves its entry `never` and fails tsc. */
const SAMPLE_ARGS: { readonly [M in BootMode]: Extract<BootArgs, { mode: M }> } = {
  poweroff: { mode: 'poweroff' },
  script: { mode: 'script', tag: 'share', script: 'run.sh', readonly: true },
  agent: { mode: 'agent', runtimeTag: 'rt', runtimeImage: 'img', runtimePmem: true },
};

describe('init.sh reads the kernel command line of the guest boot contract', () => {
  it('acts on exactly the modes the contract names', () => {
    expect(modesHandled()).toEqual(sorted(BOOT_MODES));
  });

  it('parses exactly the vfs.* keys the contract names', () => {
    expect(sorted(allFirstGroups(/^\s*vfs\.(\w+)=\*\)/gm, functionBody('parse_cmdline')))).toEqual(
      sorted(BOOT_ARG_KEYS),
    );
  });

  it('understands every word bootArgs writes, in every mode', () => {
    const keys = allFirstGroups(/^\s*vfs\.(\w+)=\*\)/gm, functionBody('parse_cmdline'));
    const readOnlyValue = firstGroup(/"\$ro" = (\S+) \]/);
    for (const args of Object.values(SAMPLE_ARGS)) {
      for (const word of bootArgs(args)) {
        const [, key = '', value = ''] = /^vfs\.(\w+)=(.*)$/.exec(word) ?? [];
        expect({ word, parsed: keys.includes(key) }).toEqual({ word, parsed: true });
        if (key === 'mode') expect(modesHandled()).toContain(value);
        if (key === 'ro') expect(value).toBe(readOnlyValue);
        if (key === 'runtime_pmem') expect(value).toBe(firstGroup(/"\$runtime_pmem" = (\S+) \]/));
      }
    }
  });

  it('defaults the runtime share tag to the contract default', () => {
    expect(firstGroup(/(?:^|\s)runtime_tag=(\w+)/m, functionBody('parse_cmdline'))).toBe(DEFAULT_RUNTIME_TAG);
  });

  it('mounts the runtime image with the file system the contract names, read-only, nodev and nosuid', () => {
    expect(firstGroup(/mount -t (\w+) -o ro,nodev,nosuid "\$disk"/, functionBody('mount_runtime'))).toBe(
      RUNTIME_IMAGE_FS,
    );
  });

  it('mounts the runtime pmem device the contract names as the image file system, with dax', () => {
    expect(firstGroup(/\[ -b (\S+) \]/, functionBody('find_pmem'))).toBe(RUNTIME_PMEM_DEVICE);
    expect(firstGroup(/mount -t (\w+) -o ro,nodev,nosuid,dax "\$pmem"/, functionBody('mount_runtime_pmem'))).toBe(
      RUNTIME_IMAGE_FS,
    );
  });

  it('mounts, in agent mode before the agent starts, exactly the file systems the contract names', () => {
    const mounted = allFirstGroups(/^\s*(mount -t .*?) \|\| die/gm, functionBody('mount_guest_filesystems'));
    expect(mounted).toEqual(GUEST_MOUNTS.map((m) => `mount -t ${m.type} -o ${m.options} ${m.source} ${m.target}`));
    // The mount points it makes are the contract's (sysfs has /sys/fs/cgroup already).
    const made = firstGroup(/^\s*mkdir -p (.*)$/m, functionBody('mount_guest_filesystems')).split(' ');
    for (const dir of made) expect(GUEST_MOUNTS.map((m) => m.target)).toContain(dir);
    const runAgent = functionBody('run_agent');
    expect(runAgent.indexOf('mount_guest_filesystems')).toBeGreaterThan(-1);
    expect(runAgent.indexOf('mount_guest_filesystems')).toBeLessThan(runAgent.indexOf('serve_agent'));
    expect(functionBody('serve_agent')).toContain('start_agent');
  });

  it("goes on in agent mode from the runtime's busybox, linked where the contract's busybox was", () => {
    expect(functionBody('run_agent')).toContain('exec "$RUNTIME/busybox" sh /init "$FROM_RUNTIME"');
    const resumed = firstGroup(/^if \[ "\$\{1-\}" = "\$FROM_RUNTIME" \]; then\n([\s\S]*?)^fi$/m);
    expect(resumed).toContain(`ln -sf "$RUNTIME/busybox" ${GUEST_BUSYBOX} `);
    expect(resumed).toContain('serve_agent');
  });

  it('looks for the agent on the virtio-serial port the contract names', () => {
    expect(firstGroup(/\/name"\)" = (\S+) \]/, functionBody('find_agent_port'))).toBe(AGENT_PORT_NAME);
  });

  it('appends its boot marks to the file the agent reports them from', () => {
    expect(firstGroup(/^MARKS=(\S+)$/m)).toBe(BOOT_MARKS);
  });
});

/** What init.sh's expansions print, standing in so its console lines can be matched. */
const EXPANSIONS: Readonly<Record<string, string>> = {
  '$(uptime_s)': '1.19',
  $up: '1.19',
  $port: '/dev/vport1p1',
  '$*': 'mount runtime share vfsruntime failed',
  $rc: '0',
  '$(runtime_mount)': '/dev/pmem0 erofs ro,nosuid,nodev,dax=always',
  '$?': '0',
};

/** A double-quoted init.sh string as the shell would print it; `extra` binds positional words. */
function expand(text: string, extra: Readonly<Record<string, string>> = {}): string {
  const values: Record<string, string> = { ...EXPANSIONS, ...extra };
  return text.replace(/\$\{[^}]*\}|\$\(\w+\)|\$\w+|\$[*?]/g, (ref) => {
    const value = values[ref];
    if (value === undefined) throw new Error(`init.sh prints ${ref}: give it a stand-in in EXPANSIONS`);
    return value;
  });
}

/** Every console line init.sh can print: its `say` calls, its `mark` calls and its VFS- echoes. */
function consoleLines(): string[] {
  const prefix = firstGroup(/^say\(\) \{ echo "([^"$]*)\$\*"; \}$/m);
  const say = (text: string, extra?: Record<string, string>): string => `${prefix}${expand(text, extra)}`;
  const markBody = functionBody('mark');
  const markTemplate = firstGroup(/\bsay "([^"]*)"/, markBody);
  const elsewhere = CODE.replace(markBody, '');
  const marks = [...elsewhere.matchAll(/^\s*mark (\w+)(?: "([^"]*)")?\s*$/gm)].map(([, name = '', detail]) =>
    say(markTemplate, { $1: name, '${2:+ $2}': detail === undefined ? '' : ` ${expand(detail)}` }),
  );
  const says = allFirstGroups(/\bsay "([^"]*)"/g, elsewhere).map((text) => say(text));
  const echoes = allFirstGroups(/\becho "(VFS-[^"]*)"/g).map((text) => expand(text));
  return [...marks, ...says, ...echoes];
}

const CONTRACT_LINES: Readonly<Record<string, RegExp>> = {
  ...INIT_MARKERS,
  error: INIT_ERROR,
  agentExited: AGENT_EXITED,
  snapshotRefused: AGENT_SNAPSHOT_REFUSED,
  runtimeMount: RUNTIME_MOUNT,
  scriptExit: SCRIPT_EXIT,
};

describe('init.sh prints the console lines of the guest boot contract', () => {
  it('prints no line the contract does not describe', () => {
    const unknown = consoleLines().filter(
      (line) => !Object.values(CONTRACT_LINES).some((pattern) => pattern.test(line)),
    );
    expect(unknown).toEqual([]);
  });

  it('prints every line the contract describes', () => {
    const lines = consoleLines();
    const unprinted = Object.entries(CONTRACT_LINES)
      .filter(([, pattern]) => !lines.some((line) => pattern.test(line)))
      .map(([name]) => name);
    expect(unprinted).toEqual([]);
  });
});

describe('build-initramfs.sh', () => {
  it('packs the static busybox where the contract says the guest has it', () => {
    const script = readFileSync(join(__dirname, 'build-initramfs.sh'), 'utf8');
    expect(script).toContain(`cp "$busybox" "$stage${GUEST_BUSYBOX}"`);
  });
});
