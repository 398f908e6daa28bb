// `vfs-runtime pool serve` runs the warm pool (@vfs/shim/pool) in the foreground with the
// effective configuration; `pool status` asks a running one what it holds.
import { PoolClient, poolSocket, runDir, type PoolStatus } from '@vfs/contracts';
import { poolLogger, servePool } from '@vfs/shim/pool';
import type { PoolCommand } from '../args';
import type { CliIo } from '../cli_io';
import { effectiveConfig } from '../effective_config';

async function serve(io: CliIo, size: number | undefined): Promise<number> {
  const { loaded } = effectiveConfig(io.env);
  const want = size ?? loaded.config.pool.size;
  if (want === 0) {
    io.err(`vfs-runtime: pool serve: the pool size is 0 ([pool] size in ${loaded.source}; or pass --size N)\n`);
    return 1;
  }
  await servePool(loaded.config, runDir(io.env), want, poolLogger(loaded.config.runtime.log_level));
  return 0;
}

export function renderPoolStatus(status: PoolStatus, socket: string): string {
  const lines = [
    `pool ${socket}: size ${status.size}, ${status.vms.filter((vm) => vm.state === 'ready').length} ready, ` +
      `${status.handedOut} handed out, ${status.bootFailures} boot failures, ${status.spareShims} spare shims`,
    `configuration ${status.fingerprint}`,
  ];
  if (status.lastError !== '') lines.push(`last boot failure: ${status.lastError}`);
  lines.push('ID            STATE    AGE     QEMU PID');
  for (const vm of status.vms) {
    const age = `${(vm.ageMs / 1000).toFixed(1)}s`;
    lines.push(`${vm.id.padEnd(14)}${vm.state.padEnd(9)}${age.padEnd(8)}${vm.qemuPid ?? '-'}`);
  }
  return `${lines.join('\n')}\n`;
}

async function status(io: CliIo, json: boolean): Promise<number> {
  const socket = poolSocket(runDir(io.env));
  const client = await PoolClient.connect(socket).catch((err: unknown) => {
    throw new Error(`no warm pool answers on ${socket} (start one with vfs-runtime pool serve): ${String(err)}`);
  });
  try {
    const answer = await client.status();
    io.out(json ? `${JSON.stringify(answer, null, 2)}\n` : renderPoolStatus(answer, socket));
    return 0;
  } finally {
    client.close();
  }
}

export function runPool(io: CliIo, command: PoolCommand): Promise<number> {
  return command.name === 'pool serve' ? serve(io, command.size) : status(io, command.json);
}
