// Watching a file descriptor from Node's own event loop: libuv's uv_poll, which Node exports to
// native addons, called through koffi. The daemon's device loop runs on the main thread this way:
// its epoll fd is one more fd of Node's loop, so the control socket, signals and the devices share
// one thread and one V8 isolate (ARCHITECTURE.md, "The daemon's memory").
import koffi from 'koffi';
import { SysError } from './libc';

// dlopen(NULL): the node binary itself, which exports libuv.
const node = koffi.load(null as unknown as string);
const PollCallback = koffi.proto('void vfs_uv_poll_cb(void *handle, int status, int events)');
const uvDefaultLoop = node.func('void *uv_default_loop(void)');
const uvHandleSize = node.func('size_t uv_handle_size(int type)');
const uvPollInit = node.func('int uv_poll_init(void *loop, void *handle, int fd)');
const uvPollStart = node.func('int uv_poll_start(void *handle, int events, vfs_uv_poll_cb *cb)');
const uvPollStop = node.func('int uv_poll_stop(void *handle)');
const uvClose = node.func('void uv_close(void *handle, void *closeCb)');

/** uv_handle_type's UV_POLL and uv_poll_event's UV_READABLE (uv.h). */
const UV_POLL = 8;
const UV_READABLE = 1;

export interface FdWatch {
  /** Stops watching; the fd itself stays open (it is the caller's). */
  stop(): void;
}

function check(call: string, r: number): void {
  // libuv's errors are negated errnos on Unix.
  if (r < 0) throw new SysError(call, -r);
}

/**
 * Calls `onReadable` from Node's event loop whenever `fd` is readable (level-triggered: again on
 * every loop iteration while it stays readable). The watch keeps the process alive until stopped.
 * `onReadable` must not throw: koffi would turn an exception into a silent return to libuv.
 */
export function watchReadable(fd: number, onReadable: () => void): FdWatch {
  // Not freed: libuv owns a handle until uv_close's callback, and a daemon makes one.
  const handle = koffi.alloc('uint8', Number(uvHandleSize(UV_POLL)));
  const callback = koffi.register(() => onReadable(), koffi.pointer(PollCallback));
  check(`uv_poll_init(${fd})`, uvPollInit(uvDefaultLoop(), handle, fd) as number);
  check(`uv_poll_start(${fd})`, uvPollStart(handle, UV_READABLE, callback) as number);
  let watching = true;
  return {
    stop(): void {
      if (!watching) return;
      watching = false;
      uvPollStop(handle);
      uvClose(handle, null);
      koffi.unregister(callback);
    },
  };
}
