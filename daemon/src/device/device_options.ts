// What one export's device loop needs to know, and how its controller talks to it.

export interface DeviceOptions {
  /** The export's tag: logged with every line of this device. */
  readonly tag: string;
  /** Listen on a new socket at this path (a stale file there is removed)… */
  readonly socketPath?: string;
  /** …or on an inherited, already listening socket (--fd). */
  readonly listenFd?: number;
  /** Request queues besides hiprio; default 1. */
  readonly requestQueues?: number;
  /** VIRTIO shared-memory region sizes offered to the front-end (index 0: the DAX window). */
  readonly shmemSizes?: readonly number[];
}

/** Messages from the controlling thread. */
export type ControlMessage = { readonly type: 'stop' };

/** How the device loop hears from its controller without yielding to an event loop. */
export interface DeviceControl {
  /** An eventfd the controller signals after posting a message. */
  readonly eventFd: number;
  /** The next posted message, if any (synchronous: receiveMessageOnPort). */
  receive(): ControlMessage | undefined;
}
