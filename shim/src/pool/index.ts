// @vfs/shim/pool: the warm pool service (vfs-runtime pool serve), built from the shim's own VM
// bring-up so that a pooled VM is exactly what a shim would boot.
import pino from 'pino';
import type { LogLevel, ShimLogger } from '../logger';

export { servePool, startPoolService, type PoolService } from './serve_pool';
export { type WarmedUp, type WarmUpPlace, type WarmUpRootfs, warmUpVm } from './warm_up';

/** The service's log on stderr: one JSON line per event, each pool VM's lines carry its id. */
export function poolLogger(level: LogLevel): ShimLogger {
  return pino(
    { level, base: { pid: process.pid, sandbox: 'pool' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: false }),
  );
}
