// What one export's device needs to know, and how the controller talks to the device thread.

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

/** Messages from the controlling thread; `E` is what the thread's handler factory needs per export. */
export type ControlMessage<E> =
  /** Serve one more export; answered with `listening` or `add-failed`. */
  | { readonly type: 'add'; readonly device: DeviceOptions; readonly exportConfig: E }
  /** Close the export's session, listener and fds; answered with `removed` once done. */
  | { readonly type: 'remove'; readonly tag: string }
  /** Close every export and end the thread. */
  | { readonly type: 'stop' };

/** What the device thread tells its controller, per export. */
export type DeviceEvent =
  | { readonly type: 'listening'; readonly tag: string }
  | { readonly type: 'add-failed'; readonly tag: string; readonly message: string }
  | { readonly type: 'removed'; readonly tag: string }
  /** The export hit an error it could not contain and was closed; the others keep serving. */
  | { readonly type: 'failed'; readonly tag: string; readonly message: string };

/** How the device loop hears from its controller without yielding to an event loop. */
export interface DeviceControl<E> {
  /** An eventfd the controller signals after posting a message. */
  readonly eventFd: number;
  /** The next posted message, if any (synchronous: receiveMessageOnPort). */
  receive(): ControlMessage<E> | undefined;
  /** Answers the controller (asynchronous: postMessage). */
  report(event: DeviceEvent): void;
}
