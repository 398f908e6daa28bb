// OPEN, CREATE and OPENDIR each take a handle, an fd held until RELEASE. With the session's handles
// at ResourceLimits.maxOpenHandles they are refused with ENFILE before anything is opened or
// created, as the kernel answers when its file table is full; every other request goes on.
import { ENFILE } from '../fuse/errno';
import type { OpHandler } from '../fuse/request';
import type { PassthroughFs } from './passthrough_fs';

export function needsHandle(op: OpHandler<PassthroughFs>): OpHandler<PassthroughFs> {
  return (rq, fs) => (fs.handles.full ? rq.error(ENFILE) : op(rq, fs));
}
