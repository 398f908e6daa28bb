// What vhost-user knows about one vring: its configuration as the front-end set it (size, base,
// addresses, kick/call/err eventfds, enable state) around the Virtqueue that processes it.
import { close } from '../sys/fd';
import type { DescriptorChain } from '../virtio/descriptor_chain';
import type { GuestMemory } from '../virtio/guest_memory';
import { Virtqueue, type GuestErrorSink } from '../virtio/virtqueue';

export interface VringAddresses {
  /** Front-end user addresses of the three rings. */
  readonly desc: number;
  readonly used: number;
  readonly avail: number;
}

export class Vring {
  size = 0;
  /** Next available index to process once started (SET_VRING_BASE). */
  base = 0;
  addresses: VringAddresses | null = null;
  kickFd = -1;
  callFd = -1;
  errFd = -1;
  /**
   * SET_VRING_ENABLE state; null until the front-end says. QEMU before 7.2 never sent it for
   * vhost-user devices other than net, so a ring that was never disabled is processed.
   */
  enabled: boolean | null = null;
  /** The kick fd is being watched by the device loop. */
  watched = false;
  readonly queue: Virtqueue;

  constructor(
    readonly index: number,
    memory: GuestMemory,
    onGuestError: GuestErrorSink,
  ) {
    this.queue = new Virtqueue(index, memory, onGuestError);
  }

  get runnable(): boolean {
    return this.queue.isReady && this.enabled !== false;
  }

  /**
   * Gives back the chain the queue popped last (Virtqueue.unpop). A ring stopped meanwhile (a
   * memory change it could not restart after) kept its base, which moves back with it.
   */
  unpop(chain: DescriptorChain): boolean {
    if (!this.queue.unpop(chain)) return false;
    if (!this.queue.isReady) this.base = (this.base - 1) & 0xffff;
    return true;
  }

  setKick(fd: number): void {
    if (this.kickFd >= 0) close(this.kickFd);
    this.kickFd = fd;
  }

  setCall(fd: number): void {
    if (this.callFd >= 0) close(this.callFd);
    this.callFd = fd;
  }

  setErr(fd: number): void {
    if (this.errFd >= 0) close(this.errFd);
    this.errFd = fd;
  }

  /** Back to the initial state: stopped, no fds (the caller unwatched the kick fd first). */
  reset(): void {
    this.queue.stop();
    this.queue.forgetInFlight();
    this.setKick(-1);
    this.setCall(-1);
    this.setErr(-1);
    this.size = 0;
    this.base = 0;
    this.addresses = null;
    this.enabled = null;
  }
}
