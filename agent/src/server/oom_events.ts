/**
 * GetOOMEvent: OOM kills per container, from the oom_kill counter of its cgroup's memory.events
 * (the kernel notifies changes of that file through inotify, so nothing polls). Kills queue up
 * until a GetOOMEvent call takes them; a call waits while the queue is empty.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import { CONTAINERS_CGROUP, parseKeyValues } from '../container/cgroups';
import type { AgentLogger } from './logger';

interface Watched {
  readonly watcher: FSWatcher;
  kills: number;
}

export class OomEvents {
  private readonly watched = new Map<string, Watched>();
  private readonly queue: string[] = [];
  private readonly waiters = new Set<(containerId: string) => void>();
  /** Containers with at least one OOM kill, for the exit reason of their processes. */
  private readonly killed = new Set<string>();

  constructor(private readonly log: AgentLogger) {}

  watch(containerId: string): void {
    const file = join(CONTAINERS_CGROUP, containerId, 'memory.events');
    const watcher = watch(file, () => this.check(containerId, file));
    watcher.on('error', (err) => this.log.warn({ container: containerId, err }, 'OOM watch failed'));
    this.watched.set(containerId, { watcher, kills: 0 });
  }

  unwatch(containerId: string): void {
    this.watched.get(containerId)?.watcher.close();
    this.watched.delete(containerId);
    this.killed.delete(containerId);
  }

  wasKilled(containerId: string): boolean {
    return this.killed.has(containerId);
  }

  /** The next OOM-killed container; rejects when the caller goes away. */
  next(cancelled: AbortSignal): Promise<string> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const onEvent = (containerId: string): void => {
        cancelled.removeEventListener('abort', onAbort);
        resolve(containerId);
      };
      const onAbort = (): void => {
        this.waiters.delete(onEvent);
        reject(new TtrpcError(Code.Canceled, 'GetOOMEvent cancelled'));
      };
      this.waiters.add(onEvent);
      cancelled.addEventListener('abort', onAbort, { once: true });
    });
  }

  private check(containerId: string, file: string): void {
    const entry = this.watched.get(containerId);
    if (entry === undefined) return;
    let kills: number;
    try {
      kills = parseKeyValues(readFileSync(file, 'utf8')).oom_kill ?? 0;
    } catch (err) {
      this.log.warn({ container: containerId, err }, 'cannot read memory.events');
      return;
    }
    if (kills <= entry.kills) return;
    entry.kills = kills;
    this.killed.add(containerId);
    this.log.warn({ container: containerId, kills }, 'OOM kill');
    const [waiter] = this.waiters;
    if (waiter === undefined) this.queue.push(containerId);
    else {
      this.waiters.delete(waiter);
      waiter(containerId);
    }
  }
}
