/**
 * One cgroup v2 directory per container, /sys/fs/cgroup/vfs/<id>: limits, freezer, stats, pids.
 * The container's path in the spec (linux.cgroupsPath) names a host cgroup and means nothing in
 * the guest; the VM itself is what the host limits.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_CGROUP_ROOT, type OciResources } from '@vfs/contracts';
import { cgroupLimitFiles } from './cgroup_limits';
import { ContainerError } from './errors';

export const CONTAINERS_CGROUP = join(GUEST_CGROUP_ROOT, 'vfs');
export const CONTROLLERS = ['cpu', 'memory', 'pids'] as const;
const EVENT_TIMEOUT_MS = 10_000;

export interface CgroupStats {
  readonly memory: {
    readonly currentBytes: number;
    readonly maxBytes: number | 'max';
    readonly stat: Readonly<Record<string, number>>;
    /** memory.events: low, high, max, oom, oom_kill counters. */
    readonly events: Readonly<Record<string, number>>;
  };
  readonly cpu: {
    readonly usageUsec: number;
    readonly userUsec: number;
    readonly systemUsec: number;
    readonly nrPeriods: number;
    readonly nrThrottled: number;
    readonly throttledUsec: number;
  };
  readonly pids: { readonly current: number; readonly max: number | 'max' };
}

/** "key value" lines (memory.stat, cpu.stat, cgroup.events) to a record of numbers. */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) out[key] = Number(value);
  }
  return out;
}

export class ContainerCgroup {
  private constructor(
    readonly path: string,
    private readonly containerId: string,
  ) {}

  static create(containerId: string, resources: OciResources | undefined): ContainerCgroup {
    const cgroup = new ContainerCgroup(join(CONTAINERS_CGROUP, containerId), containerId);
    cgroup.guard('create', () => mkdirSync(cgroup.path));
    cgroup.apply(resources);
    return cgroup;
  }

  /** Writes the limits the resources set; fields left out keep their current value. */
  apply(resources: OciResources | undefined): void {
    for (const [file, value] of cgroupLimitFiles(resources)) this.write(file, value);
  }

  /**
   * Guest pids of every process in the container: in its cgroup and in any the container made
   * below it (a privileged or systemd container may).
   */
  pids(): number[] {
    return this.subtree().flatMap((dir) =>
      this.belowOwn(dir, `read ${dir}/cgroup.procs`, () => readFileSync(join(dir, 'cgroup.procs'), 'utf8'), '')
        .split('\n')
        .filter((line) => line !== '')
        .map(Number),
    );
  }

  /** SIGKILL to every process of the subtree at once (cgroup.kill, Linux 5.14): no fork escapes it. */
  killAll(): void {
    this.write('cgroup.kill', '1');
  }

  async freeze(): Promise<void> {
    await this.setFrozen(true);
  }

  async thaw(): Promise<void> {
    await this.setFrozen(false);
  }

  stats(): CgroupStats {
    const cpu = parseKeyValues(this.read('cpu.stat'));
    return {
      memory: {
        currentBytes: Number(this.read('memory.current')),
        maxBytes: this.readLimit('memory.max'),
        stat: parseKeyValues(this.read('memory.stat')),
        events: parseKeyValues(this.read('memory.events')),
      },
      cpu: {
        usageUsec: cpu.usage_usec ?? 0,
        userUsec: cpu.user_usec ?? 0,
        systemUsec: cpu.system_usec ?? 0,
        nrPeriods: cpu.nr_periods ?? 0,
        nrThrottled: cpu.nr_throttled ?? 0,
        throttledUsec: cpu.throttled_usec ?? 0,
      },
      pids: { current: Number(this.read('pids.current')), max: this.readLimit('pids.max') },
    };
  }

  /** Only an empty cgroup can be removed: call after every process has exited. Children first. */
  remove(): void {
    for (const dir of this.subtree().reverse()) this.belowOwn(dir, `remove ${dir}`, () => rmdirSync(dir), undefined);
  }

  /** The cgroup's directory and every cgroup below it, parents before children. */
  private subtree(): string[] {
    const dirs = [this.path];
    for (let i = 0; i < dirs.length; i++) {
      const dir = dirs[i] as string;
      const children = this.belowOwn(dir, `list ${dir}`, () => readdirSync(dir, { withFileTypes: true }), []);
      for (const child of children) if (child.isDirectory()) dirs.push(join(dir, child.name));
    }
    return dirs;
  }

  /**
   * The container manages the cgroups below its own: one may go while it is walked (ENOENT), and
   * a threaded one has no process list (EOPNOTSUPP; its processes are listed in the domain above).
   */
  private belowOwn<T>(dir: string, what: string, action: () => T, missing: T): T {
    try {
      return action();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (dir !== this.path && (code === 'ENOENT' || code === 'EOPNOTSUPP')) return missing;
      return this.guard(what, () => {
        throw err;
      });
    }
  }

  /** Resolves once no process is left (exited ones are gone only after being reaped). */
  async waitEmpty(): Promise<void> {
    await this.waitForEvent('populated', 0, 'empty', () => undefined);
  }

  /** cgroup.freeze asks; cgroup.events `frozen` tells when every task has stopped. */
  private async setFrozen(frozen: boolean): Promise<void> {
    const want = frozen ? 1 : 0;
    await this.waitForEvent('frozen', want, frozen ? 'frozen' : 'thawed', () =>
      this.write('cgroup.freeze', String(want)),
    );
  }

  /**
   * Runs `request`, then waits until cgroup.events shows key = want. The kernel notifies
   * cgroup.events changes through inotify, so this waits without polling.
   */
  private waitForEvent(key: string, want: number, what: string, request: () => void): Promise<void> {
    const events = join(this.path, 'cgroup.events');
    return new Promise<void>((resolve, reject) => {
      const check = (): boolean => parseKeyValues(this.read('cgroup.events'))[key] === want;
      const finish = (err?: unknown): void => {
        watcher.close();
        clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onChange = (): void => {
        try {
          if (check()) finish();
        } catch (err) {
          finish(err);
        }
      };
      const watcher = watch(events, onChange);
      const timer = setTimeout(() => finish(this.error(`not ${what} within ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS);
      try {
        request();
      } catch (err) {
        finish(err);
        return;
      }
      onChange();
    });
  }

  private readLimit(file: string): number | 'max' {
    const text = this.read(file).trim();
    return text === 'max' ? 'max' : Number(text);
  }

  private read(file: string): string {
    return this.guard(`read ${file}`, () => readFileSync(join(this.path, file), 'utf8'));
  }

  private write(file: string, value: string): void {
    this.guard(`write ${value} to ${file}`, () => writeFileSync(join(this.path, file), value));
  }

  private guard<T>(what: string, action: () => T): T {
    try {
      return action();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw this.error(`cgroup ${this.path}: ${what}: ${e.message}`, e.errno === undefined ? undefined : -e.errno, err);
    }
  }

  private error(message: string, errno?: number, cause?: unknown): ContainerError {
    return new ContainerError('CGROUP_FAILED', message, { containerId: this.containerId, errno, cause });
  }
}
