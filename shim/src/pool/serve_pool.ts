// `vfs-runtime pool serve`: the warm pool as a host service, in the role of Kata's VM
// factory/cache. It answers on <run>/pool.sock (root only) until SIGTERM or SIGINT, then stops
// every VM it still holds and removes its socket; VMs already handed to shims are theirs and
// keep running. A pool that crashed left VMs no shim adopted: the next start stops them first.

import { mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  errorMessage,
  JsonLinesServer,
  parsePoolRequest,
  poolSocket,
  type PoolRequest,
  type PoolStatusAnswer,
  type PoolTakeAnswer,
} from '@vfs/contracts';
import { installRoot, type LoadedConfig } from '@vfs/runtime-config';
import type { ShimLogger } from '../logger';
import { poolFingerprint } from './pool_fingerprint';
import { bootPoolVm, newPoolVmId } from './pool_vm';
import { SpareShims } from './spare_shims';
import { removeStalePoolVm } from './stale_pool_vms';
import { SHIM_NAME } from '../version';
import { runtimeDir } from '../vm_runtime/vm_bringup';
import { WarmPool } from './warm_pool';

export interface PoolService {
  readonly pool: WarmPool;
  readonly socket: string;
  /** Stops answering, then stops the pool's VMs. */
  close(): Promise<void>;
}

function answer(pool: WarmPool, spares: SpareShims, request: PoolRequest): PoolTakeAnswer | PoolStatusAnswer {
  switch (request.op) {
    case 'take': {
      const taken = pool.take(request.fingerprint, request.sandboxId);
      return taken.vm === undefined
        ? { id: request.id, ok: true, reason: taken.reason }
        : { id: request.id, ok: true, vm: taken.vm };
    }
    case 'status':
      return { id: request.id, ok: true, status: { ...pool.status(), spareShims: spares.status().running } };
  }
}

/** The pool's dir goes with the pool, unless shims still hold VMs from it. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'ENOENT') throw err;
  }
}

async function removeStale(runDir: string, log: ShimLogger): Promise<void> {
  let ids: string[];
  try {
    ids = readdirSync(join(runDir, 'pool'));
  } catch {
    return;
  }
  for (const id of ids) {
    await removeStalePoolVm(runDir, id, log).catch((err: unknown) =>
      log.error({ poolVm: id, err: errorMessage(err) }, 'cannot clean up a VM of an earlier pool'),
    );
  }
}

export async function startPoolService(
  config: LoadedConfig['config'],
  runDir: string,
  size: number,
  log: ShimLogger,
): Promise<PoolService> {
  await removeStale(runDir, log);
  const fingerprint = poolFingerprint(config, runtimeDir());
  const boot = { config, runDir, fingerprint, log };
  const shape = { size, refillDelayMs: config.pool.refill_delay_ms };
  const pool = new WarmPool(shape, fingerprint, (id) => bootPoolVm(boot, id), newPoolVmId, log);
  const socket = poolSocket(runDir);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  // As many spare shims as VMs: each hand-out of a VM is a new sandbox's, whose `start` claims one.
  const spares = new SpareShims({
    program: join(installRoot(), 'build', 'bin', SHIM_NAME),
    runDir,
    count: size,
    refillDelayMs: config.pool.refill_delay_ms,
    log,
  });
  const server = await JsonLinesServer.listen(
    socket,
    async (line) => answer(pool, spares, parsePoolRequest(line)),
    log,
  );
  pool.start();
  spares.start();
  log.info({ size, fingerprint, socket }, 'warm pool serving');
  return {
    pool,
    socket,
    close: async () => {
      await server.close();
      await spares.stop();
      await pool.stop();
      removeIfEmpty(join(runDir, 'pool'));
      log.info('warm pool stopped');
    },
  };
}

/** Serves until SIGTERM or SIGINT. */
export async function servePool(
  config: LoadedConfig['config'],
  runDir: string,
  size: number,
  log: ShimLogger,
): Promise<void> {
  const service = await startPoolService(config, runDir, size, log);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await service.close();
}
