// A passthrough export of a fresh temp directory, served in-process through LoopbackTransport
// and driven by FuseClient: the fixture of the server's unit tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { close, cPath, O_CLOEXEC, O_DIRECTORY, O_PATH, openat, AT_FDCWD } from '../src/sys/fs';
import type { ExportConfig } from '../src/passthrough/config';
import { openProcSelfFd } from '../src/passthrough/passthrough_fs';
import { fuseHandlerFactory } from '../src/fuse/server';
import { FuseClient } from './fuse_client';
import { LoopbackTransport, type LoopbackOptions } from './loopback_transport';

export interface Harness {
  readonly dir: string;
  readonly transport: LoopbackTransport;
  readonly client: FuseClient;
  readonly config: ExportConfig;
  /** Another session on the same export (the guest reconnecting, or a second guest). */
  reconnect(): { transport: LoopbackTransport; client: FuseClient };
  cleanup(): void;
}

export function startHarness(options: Partial<Omit<ExportConfig, 'rootFd' | 'procSelfFd' | 'logger'>> = {}, loop: LoopbackOptions = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'vfs-fuse-'));
  const rootFd = openat(AT_FDCWD, cPath(dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootFd < 0) throw new Error(`open ${dir}: ${-rootFd}`);
  const procSelfFd = openProcSelfFd();
  const config: ExportConfig = {
    rootFd,
    procSelfFd,
    readonly: false,
    cache: 'auto',
    xattr: true,
    posixLocks: true,
    flock: true,
    readdirplus: true,
    writeback: false,
    allowDirectIo: false,
    announceSubmounts: false,
    logger: pino({ level: 'silent' }),
    ...options,
  };
  const transports: LoopbackTransport[] = [];
  const connect = (): { transport: LoopbackTransport; client: FuseClient } => {
    const transport = new LoopbackTransport(fuseHandlerFactory(config), loop);
    transports.push(transport);
    return { transport, client: new FuseClient(transport) };
  };
  const first = connect();
  return {
    dir,
    transport: first.transport,
    client: first.client,
    config,
    reconnect: connect,
    cleanup(): void {
      for (const t of transports) t.close();
      close(rootFd);
      close(procSelfFd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
