// Task events to containerd: ttrpc `containerd.services.events.ttrpc.v1.Events/Forward` on
// $TTRPC_ADDRESS, one Envelope per event (ARCHITECTURE.md, 'containerd and the shim'), the
// namespace both in the envelope and in the ttrpc metadata. Events go out strictly in the order
// they were published (containerd relies on /tasks/start preceding /tasks/exit), one at a time; a
// failed send is retried with backoff on a fresh connection, so a containerd restart delays events
// instead of losing them.

import { setTimeout as sleep } from 'node:timers/promises';
import {
  TaskCreate,
  TaskDelete,
  TaskExecAdded,
  TaskExecStarted,
  TaskExit,
  TaskOOM,
  TaskPaused,
  TaskResumed,
  TaskStart,
} from '@vfs/proto/gen/containerd/events/task';
import { EventsDefinition } from '@vfs/proto/gen/containerd/services/ttrpc/events/v1/events';
import { type PartialMessage, TtrpcClient } from '@vfs/proto/ttrpc';
import type { ShimLogger } from './logger';

const TOPICS = {
  '/tasks/create': { typeUrl: 'containerd.events.TaskCreate', codec: TaskCreate },
  '/tasks/start': { typeUrl: 'containerd.events.TaskStart', codec: TaskStart },
  '/tasks/exit': { typeUrl: 'containerd.events.TaskExit', codec: TaskExit },
  '/tasks/delete': { typeUrl: 'containerd.events.TaskDelete', codec: TaskDelete },
  '/tasks/exec-added': { typeUrl: 'containerd.events.TaskExecAdded', codec: TaskExecAdded },
  '/tasks/exec-started': { typeUrl: 'containerd.events.TaskExecStarted', codec: TaskExecStarted },
  '/tasks/oom': { typeUrl: 'containerd.events.TaskOOM', codec: TaskOOM },
  '/tasks/paused': { typeUrl: 'containerd.events.TaskPaused', codec: TaskPaused },
  '/tasks/resumed': { typeUrl: 'containerd.events.TaskResumed', codec: TaskResumed },
} as const;

export type Topic = keyof typeof TOPICS;
type EventOf<T extends Topic> = ReturnType<(typeof TOPICS)[T]['codec']['decode']>;

/** Where events go: the real publisher, or a recorder in unit tests. */
export interface EventSink {
  publish<T extends Topic>(topic: T, event: PartialMessage<EventOf<T>>): void;
}

interface Queued {
  readonly topic: Topic;
  readonly typeUrl: string;
  readonly payload: Uint8Array;
  readonly timestamp: Date;
}

const MAX_QUEUED = 4096;
const SEND_TIMEOUT_MS = 5000;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2000;

function encode<T extends Topic>(topic: T, event: PartialMessage<EventOf<T>>): Queued {
  const { typeUrl, codec } = TOPICS[topic];
  // The union of codecs makes TypeScript lose the pairing of topic and message; the table pairs them.
  const fns = codec as unknown as { fromPartial(e: unknown): unknown; encode(m: unknown): { finish(): Uint8Array } };
  return { topic, typeUrl, payload: fns.encode(fns.fromPartial(event)).finish(), timestamp: new Date() };
}

export interface EventPublisherOptions {
  /** $TTRPC_ADDRESS: containerd's ttrpc socket (`unix://` prefix allowed). */
  readonly address: string;
  readonly namespace: string;
  readonly log: ShimLogger;
}

export class EventPublisher implements EventSink {
  private readonly queue: Queued[] = [];
  private client: TtrpcClient | undefined;
  private pumping: Promise<void> | undefined;
  private closed = false;
  private readonly socketPath: string;

  constructor(private readonly options: EventPublisherOptions) {
    this.socketPath = options.address.replace(/^unix:\/\//, '');
  }

  publish<T extends Topic>(topic: T, event: PartialMessage<EventOf<T>>): void {
    if (this.closed) throw new Error(`event ${topic} published after the publisher was closed`);
    if (this.queue.length >= MAX_QUEUED) {
      const dropped = this.queue.shift() as Queued;
      this.options.log.error({ topic: dropped.topic }, 'event queue full: dropped the oldest event');
    }
    this.queue.push(encode(topic, event));
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  /** Resolves when every queued event is delivered, or after `timeoutMs` (then logs what is left). */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 && Date.now() < deadline) await sleep(20);
    if (this.queue.length > 0) {
      this.options.log.error({ undelivered: this.queue.map((q) => q.topic) }, 'events not delivered before shutdown');
    }
  }

  /** Stops sending (queued events are abandoned: call flush first) and closes the connection. */
  close(): void {
    this.closed = true;
    this.client?.close();
    this.client = undefined;
  }

  private async pump(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (this.queue.length > 0 && !this.closed) {
      const next = this.queue[0] as Queued;
      try {
        await this.send(next);
        this.queue.shift();
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        this.options.log.warn(
          { topic: next.topic, err: String(err), retryInMs: backoff },
          'event not delivered: retrying',
        );
        this.client?.close();
        this.client = undefined;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  private async send(event: Queued): Promise<void> {
    this.client ??= await TtrpcClient.connect(this.socketPath, { logger: this.options.log });
    await this.client.service(EventsDefinition).forward(
      {
        envelope: {
          timestamp: event.timestamp,
          namespace: this.options.namespace,
          topic: event.topic,
          event: { typeUrl: event.typeUrl, value: Buffer.from(event.payload) },
        },
      },
      { timeoutMs: SEND_TIMEOUT_MS, metadata: { 'containerd-namespace-ttrpc': this.options.namespace } },
    );
    this.options.log.debug({ topic: event.topic }, 'event published');
  }
}
