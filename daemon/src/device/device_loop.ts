// The device loop: one epoll set holding the control eventfd and every export's listening
// socket, front-end connection and kick eventfds, each export in its own token range (tokens.ts).
// Exports are added and removed at run time by control messages. One thread serves them all, so
// one export's work briefly delays the others; each export's failures stay its own
// (export_device.ts). While one export's handler awaits QEMU's reply to a DAX map, the others'
// fds are served from inside that wait (serveNeighbours): QEMU announces the new mapping to every
// back end of the VM and answers the map only once each has replied. The loop does not own a
// thread: its owner calls turn() when the epoll fd is readable or the last turn's timeout is up
// (device_host.ts: from Node's event loop on the daemon's main thread).
import type { Logger } from 'pino';
import { errorMessage } from '@vfs/contracts';
import { drain } from '../sys/eventfd';
import { Epoll, EPOLLIN } from '../sys/epoll';
import type { ChainHandlerFactory } from '../virtio/descriptor_chain';
import type { DeviceControl, DeviceOptions } from './device_options';
import { ExportDevice } from './export_device';
import { LOCAL_TOKEN_MASK, TOKEN_CONTROL, TOKEN_KICK_BASE, TOKEN_SHIFT } from './tokens';

export interface DeviceLoopParams<E> {
  /** Makes an export's handler factory from the export config its `add` carries. */
  readonly makeFactory: (exportConfig: E) => ChainHandlerFactory;
  readonly control: DeviceControl<E>;
  readonly log: Logger;
}

export class DeviceLoop<E> {
  private readonly epoll = new Epoll();
  /** Exports by slot (token >>> TOKEN_SHIFT); slot 0 is the loop's own, freed slots are null. */
  private readonly slots: (ExportDevice | null)[] = [null];
  /** Slots by tag: for control messages only, never on the event path. */
  private readonly byTag = new Map<string, number>();
  private controlPending = false;
  private stopRequested = false;
  /** The export whose handler awaits a back-end reply while its neighbours are served; 0: none. */
  private waitingSlot = 0;
  /** Events were served from inside a wait: queues may have become pending after their turn. */
  private servedNested = false;
  /** A batch of events is being dispatched (handlers run after it, in afterWake). */
  private dispatching = false;
  /** The last turn's wait brought no front-end event (it timed out, or only the control fd woke). */
  private quiet = true;

  constructor(private readonly params: DeviceLoopParams<E>) {
    this.epoll.add(params.control.eventFd, EPOLLIN, TOKEN_CONTROL);
    params.log.info('device loop ready');
  }

  /** Readable whenever the loop has events to take: what its owner watches. */
  get fd(): number {
    return this.epoll.fd;
  }

  /** The controller posted `stop`: the owner closes the loop and calls turn() no more. */
  get stopped(): boolean {
    return this.stopRequested;
  }

  /**
   * The last turn's wait brought no front-end event: it timed out, or only a control message woke
   * it (nothing else can come from Node's side while the loop holds the thread). A wait cut short
   * by a signal (the profiler's SIGPROF every ms) is not quiet: the guest may be mid-burst.
   */
  get lastTurnQuiet(): boolean {
    return this.quiet;
  }

  /**
   * Waits up to `timeoutMs` for events (0: takes what is ready), serves them and lets every export
   * run its queues. Returns the next turn's timeout: 0 when work is left, -1 when only events can
   * bring more, else the soonest export's timeout in ms.
   */
  turn(timeoutMs: number): number {
    const n = this.epoll.wait(timeoutMs);
    this.quiet = !this.epoll.interrupted;
    this.dispatching = true;
    for (let i = 0; i < n; i++) this.dispatch(this.epoll.tokenAt(i), this.epoll.eventsAt(i));
    this.dispatching = false;
    // After the batch: a slot freed by `remove` and reused by `add` must not get the rest of
    // the batch's events, which belong to the export that left.
    if (this.controlPending) this.readControl();
    return this.afterWake();
  }

  close(): void {
    for (const tag of [...this.byTag.keys()]) this.removeExport(tag, 'device stopping');
    this.epoll.close();
    this.params.log.info('stopped');
  }

  private dispatch(token: number, events: number): void {
    if (token === TOKEN_CONTROL) {
      this.controlPending = true;
      return;
    }
    this.quiet = false;
    const slot = token >>> TOKEN_SHIFT;
    const device = this.slots[slot];
    // Null: an event of an export removed earlier in this batch.
    if (device === null || device === undefined) return;
    try {
      device.dispatch(token & LOCAL_TOKEN_MASK, events);
    } catch (err) {
      this.failExport(slot, err);
    }
  }

  /** Lets every export process its queues; the next wait lasts until the soonest export's timeout. */
  private afterWake(): number {
    this.servedNested = false;
    let timeout = -1;
    for (let slot = 1; slot < this.slots.length; slot++) {
      const device = this.slots[slot];
      if (device === null || device === undefined) continue;
      let t: number;
      try {
        t = device.afterWake();
      } catch (err) {
        this.failExport(slot, err);
        continue;
      }
      if (t >= 0 && (timeout < 0 || t < timeout)) timeout = t;
    }
    return this.servedNested ? 0 : timeout;
  }

  /**
   * Runs inside export `slot`'s handler while it awaits QEMU's reply: serves what the other
   * exports have ready. The waiting export's own socket is its back-end channel's to serve (and
   * level-triggered: seen again later); a kick only marks a queue pending, which is safe anywhere.
   * Not re-entered: a neighbour's handler that waits in turn serves only its own socket. Not
   * during a batch either (no handler waits there today): it would take events the batch holds.
   */
  private serveNeighbours(slot: number): void {
    if (this.waitingSlot !== 0 || this.dispatching) return;
    this.waitingSlot = slot;
    try {
      const n = this.epoll.wait(0);
      for (let i = 0; i < n; i++) {
        const token = this.epoll.tokenAt(i);
        if (token === TOKEN_CONTROL) {
          // Handled once the wait is over; drained now so that it does not keep the wait awake.
          drain(this.params.control.eventFd);
          this.controlPending = true;
        } else if (token >>> TOKEN_SHIFT !== slot || (token & LOCAL_TOKEN_MASK) >= TOKEN_KICK_BASE) {
          this.dispatch(token, this.epoll.eventsAt(i));
        }
      }
    } finally {
      this.waitingSlot = 0;
      this.servedNested = true;
    }
  }

  private readControl(): void {
    this.controlPending = false;
    const { control } = this.params;
    drain(control.eventFd);
    for (let msg = control.receive(); msg !== undefined; msg = control.receive()) {
      switch (msg.type) {
        case 'add':
          this.addExport(msg.device, msg.exportConfig);
          break;
        case 'remove':
          this.removeExport(msg.tag, 'export removed');
          control.report({ type: 'removed', tag: msg.tag });
          break;
        case 'stop':
          this.stopRequested = true;
          break;
      }
    }
  }

  private addExport(options: DeviceOptions, exportConfig: E): void {
    const { control, makeFactory, log } = this.params;
    const tag = options.tag;
    if (this.byTag.has(tag)) {
      control.report({ type: 'add-failed', tag, message: `export '${tag}' is already served` });
      return;
    }
    const slot = this.freeSlot();
    let device: ExportDevice;
    try {
      const exportLog = log.child({ export: tag });
      const neighbours = { fd: this.epoll.fd, serveReady: () => this.serveNeighbours(slot) };
      device = new ExportDevice(
        this.epoll,
        slot << TOKEN_SHIFT,
        options,
        makeFactory(exportConfig),
        exportLog,
        neighbours,
      );
    } catch (err) {
      log.error({ export: tag, err }, 'cannot serve the export');
      control.report({ type: 'add-failed', tag, message: errorMessage(err) });
      return;
    }
    this.slots[slot] = device;
    this.byTag.set(tag, slot);
    control.report({ type: 'listening', tag });
  }

  private removeExport(tag: string, reason: string): void {
    const slot = this.byTag.get(tag);
    if (slot === undefined) return;
    const device = this.slots[slot] as ExportDevice;
    this.slots[slot] = null;
    this.byTag.delete(tag);
    try {
      device.close(reason);
    } catch (err) {
      this.params.log.error({ export: tag, err }, 'closing the export failed');
    }
  }

  /** Something the export could not contain (its listener failed): it goes, the others stay. */
  private failExport(slot: number, err: unknown): void {
    const tag = [...this.byTag].find(([, s]) => s === slot)?.[0];
    if (tag === undefined) return;
    this.params.log.error({ export: tag, err }, 'export failed: closed');
    this.removeExport(tag, 'export failed');
    this.params.control.report({ type: 'failed', tag, message: errorMessage(err) });
  }

  private freeSlot(): number {
    const free = this.slots.indexOf(null, 1);
    if (free >= 0) return free;
    this.slots.push(null);
    return this.slots.length - 1;
  }
}
