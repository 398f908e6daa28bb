// How long the device loop keeps the main thread from Node's event loop. Each return to Node costs
// libuv two epoll_pwait calls (Node measures the loop's idle time, so libuv first polls without a
// timeout), the uv_poll callback through koffi and our own epoll_wait again: more system calls
// than the FUSE request they wake for, on a host where each is expensive (ARCHITECTURE.md, "Where
// the daemon's CPU goes"). While requests come back to back the loop waits for the next one in its
// own epoll set, briefly, and hands the thread back to Node (control socket, signals, timers) at
// least every HOLD_MS.

/**
 * How long to wait in the loop's own epoll set for the next request after serving one. An export's
 * timeout (a lock's retry) falls due at most this late.
 */
export const LINGER_MS = 1;
/** The longest stretch the loop keeps Node's event loop waiting. */
export const HOLD_MS = 5;

/**
 * The timeout of the next turn within one hold of the main thread, or null to hand it back to
 * Node. `next` is what the last turn returned (0: work left, -1: none, else the soonest export
 * timeout in ms), `quiet` whether its wait brought nothing from a front-end, `heldMs` how long
 * this hold has lasted.
 */
export function nextTurnTimeout(next: number, quiet: boolean, heldMs: number): number | null {
  if (heldMs >= HOLD_MS) return null;
  if (next === 0) return 0;
  // Node's own wait on the loop's fd costs nothing more from here on.
  if (quiet) return null;
  return LINGER_MS;
}

/** The default clock, one function for every call (a default arrow would be a new closure per wake). */
const monotonicMs = (): number => performance.now();

/** What holdMainThread drives: the device loop (device_loop.ts). */
export interface TurningLoop {
  turn(timeoutMs: number): number;
  /** The last turn's wait brought nothing from a front-end (a control message is not a request). */
  readonly lastTurnQuiet: boolean;
  readonly stopped: boolean;
}

/**
 * Turns the loop until it is quiet, stopped or has held the thread for HOLD_MS; returns the last
 * turn's result (what the owner schedules the next turn by).
 */
export function holdMainThread(loop: TurningLoop, now: () => number = monotonicMs): number {
  const start = now();
  let next = loop.turn(0);
  for (;;) {
    if (loop.stopped) return next;
    const timeout = nextTurnTimeout(next, loop.lastTurnQuiet, now() - start);
    if (timeout === null) return next;
    next = loop.turn(timeout);
  }
}
