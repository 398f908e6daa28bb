// A sandbox's state directory: what `delete` needs to clean up after a shim that died (kill -9)
// without help from it. Each helper process (QEMU, the daemon, the shim itself) is recorded by pid
// and kernel start time, so a recycled pid is never killed; each host mount is journalled before
// it is made, so an interrupted mount is still unmounted.

import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ProcessIdentity, processStartTime } from '@vfs/contracts';

/** The daemon's record: its pid is unshare's under --sandbox=namespace, leading the daemon's group. */
export const DAEMON_RECORD = 'virtiofsd';

/** A helper process, recorded under its name. */
export interface PidRecord extends ProcessIdentity {
  readonly name: string;
}

export interface MountRecord {
  readonly target: string;
  /** The container it belongs to: the container's own cleanup unmounts only its entries. */
  readonly containerId: string;
}

function readJsonLines<T>(path: string): T[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

export class SandboxState {
  readonly pidDir: string;
  private readonly mountJournal: string;

  constructor(readonly dir: string) {
    this.pidDir = join(dir, 'pids');
    this.mountJournal = join(dir, 'mounts.jsonl');
  }

  create(): void {
    mkdirSync(this.pidDir, { recursive: true, mode: 0o700 });
  }

  /** Records a helper process; `name` is unique per sandbox (`shim`, `qemu`, `virtiofsd`, …). */
  recordPid(name: string, pid: number): PidRecord {
    const startTime = processStartTime(pid);
    if (startTime === undefined) throw new Error(`cannot record ${name}: process ${pid} is not running`);
    const record: PidRecord = { name, pid, startTime };
    writeFileSync(join(this.pidDir, `${name}.json`), JSON.stringify(record));
    return record;
  }

  forgetPid(name: string): void {
    rmSync(join(this.pidDir, `${name}.json`), { force: true });
  }

  pids(): PidRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.pidDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => JSON.parse(readFileSync(join(this.pidDir, n), 'utf8')) as PidRecord);
  }

  pid(name: string): PidRecord | undefined {
    return this.pids().find((record) => record.name === name);
  }

  /** Called before mount(2), so a crash between the two still leaves a record. */
  journalMount(record: MountRecord): void {
    appendFileSync(this.mountJournal, `${JSON.stringify(record)}\n`);
  }

  mounts(): MountRecord[] {
    return readJsonLines<MountRecord>(this.mountJournal);
  }

  forgetMount(target: string): void {
    const rest = this.mounts().filter((m) => m.target !== target);
    writeFileSync(this.mountJournal, rest.map((m) => `${JSON.stringify(m)}\n`).join(''));
  }

  /** The exact answer `start` printed, so containers joining the sandbox print the same. */
  writeBootstrap(answer: string): void {
    writeFileSync(join(this.dir, 'bootstrap'), answer);
  }

  readBootstrap(): string | undefined {
    return this.readOptional('bootstrap');
  }

  /** The host cgroups the sandbox's processes run in (sandbox_cgroup.ts), for `delete` to remove. */
  recordCgroups(dirs: readonly string[]): void {
    writeFileSync(join(this.dir, 'cgroups.json'), JSON.stringify(dirs));
  }

  cgroups(): string[] {
    const json = this.readOptional('cgroups.json');
    if (json === undefined) return [];
    const dirs: unknown = JSON.parse(json);
    return Array.isArray(dirs) ? dirs.filter((dir): dir is string => typeof dir === 'string') : [];
  }

  private readOptional(name: string): string | undefined {
    try {
      return readFileSync(join(this.dir, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
