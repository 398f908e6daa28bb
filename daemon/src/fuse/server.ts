// The FUSE server behind the virtio-fs queues: validates each request's header, negotiates INIT,
// and dispatches to the passthrough operations. handle() never throws: a malformed request gets an
// errno, an unknown opcode ENOSYS, anything before INIT EIO, and an internal fault is logged and
// answered EIO. A DAX request the front-end cannot answer yet (FrontendBusy) is put back, REQUEUED.
import {
  FrontendBusy,
  NO_BACKEND,
  REQUEUED,
  type BackendAccess,
  type ChainHandler,
  type ChainHandlerFactory,
  type CompletionSink,
  type DescriptorChain,
} from '../virtio/descriptor_chain';
import type { ExportConfig } from '../passthrough/config';
import { PassthroughFs } from '../passthrough/passthrough_fs';
import * as entry from '../passthrough/ops_entry';
import * as file from '../passthrough/ops_file';
import * as dir from '../passthrough/ops_dir';
import * as xattr from '../passthrough/ops_xattr';
import * as lock from '../passthrough/ops_lock';
import * as dax from '../passthrough/ops_dax';
import { needsHandle } from '../passthrough/handle_limit';
import { negotiateInit } from './init';
import { Opcode } from './abi';
import { EIO, ENOSYS } from './errno';
import { Request, type OpHandler } from './request';

type Handler = OpHandler<PassthroughFs>;

const OPS: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [Opcode.LOOKUP, entry.lookup],
  [Opcode.FORGET, entry.forget],
  [Opcode.BATCH_FORGET, entry.batchForget],
  [Opcode.GETATTR, entry.getattr],
  [Opcode.SETATTR, entry.setattr],
  [Opcode.READLINK, entry.readlink],
  [Opcode.SYMLINK, entry.symlink],
  [Opcode.MKNOD, entry.mknod],
  [Opcode.MKDIR, entry.mkdir],
  [Opcode.UNLINK, entry.unlink],
  [Opcode.RMDIR, entry.rmdir],
  [Opcode.RENAME, entry.rename],
  [Opcode.RENAME2, entry.rename2],
  [Opcode.LINK, entry.link],
  [Opcode.ACCESS, entry.access],
  [Opcode.STATFS, entry.statfs],
  [Opcode.OPEN, needsHandle(file.open)],
  [Opcode.CREATE, needsHandle(file.create)],
  [Opcode.READ, file.read],
  [Opcode.WRITE, file.write],
  [Opcode.FLUSH, file.flush],
  [Opcode.RELEASE, file.release],
  [Opcode.FSYNC, file.fsyncFile],
  [Opcode.FALLOCATE, file.fallocateFile],
  [Opcode.LSEEK, file.lseekFile],
  [Opcode.COPY_FILE_RANGE, file.copyFileRangeOp],
  [Opcode.SYNCFS, file.syncfs],
  [Opcode.OPENDIR, needsHandle(dir.opendir)],
  [Opcode.READDIR, dir.readdir],
  [Opcode.READDIRPLUS, dir.readdirplus],
  [Opcode.RELEASEDIR, dir.releasedir],
  [Opcode.FSYNCDIR, dir.fsyncdir],
  [Opcode.SETXATTR, xattr.setxattr],
  [Opcode.GETXATTR, xattr.getxattr],
  [Opcode.LISTXATTR, xattr.listxattr],
  [Opcode.REMOVEXATTR, xattr.removexattr],
  [Opcode.GETLK, lock.getlk],
  [Opcode.SETLK, lock.setlk],
  [Opcode.SETLKW, lock.setlkw],
  [Opcode.INTERRUPT, lock.interrupt],
  [Opcode.SETUPMAPPING, dax.setupmapping],
  [Opcode.REMOVEMAPPING, dax.removemapping],
]);

class FuseServer implements ChainHandler {
  private readonly rq = new Request();
  private readonly fs: PassthroughFs;
  private initialized = false;

  constructor(
    private readonly config: ExportConfig,
    complete: CompletionSink,
    backend: BackendAccess,
  ) {
    this.fs = new PassthroughFs(config, complete, backend);
  }

  handle(chain: DescriptorChain, queueIndex: number): number {
    const rq = this.rq;
    try {
      const bad = rq.begin(chain, queueIndex);
      if (bad < 0) return rq.error(bad);
      return this.dispatch(rq);
    } catch (err) {
      if (err instanceof FrontendBusy) return REQUEUED;
      this.config.logger.error({ err, opcode: rq.opcode }, 'FUSE request failed');
      try {
        return rq.error(EIO);
      } catch (replyErr) {
        this.config.logger.error({ err: replyErr }, 'cannot write the EIO reply');
        return 0;
      }
    }
  }

  poll(): number {
    return this.fs.locks.poll();
  }

  reset(): void {
    this.fs.reset();
    this.initialized = false;
  }

  private dispatch(rq: Request): number {
    switch (rq.opcode) {
      case Opcode.INIT: {
        const r = negotiateInit(rq, this.config);
        if (r.ok) {
          this.fs.reset();
          this.fs.submounts = r.submounts;
          this.fs.daxMinFileBytes = r.inodeDax ? (this.config.daxMinFileBytes ?? 0) : 0;
          this.fs.posixAcl = r.posixAcl;
          this.fs.setxattrExt = r.setxattrExt;
          this.initialized = true;
        }
        return r.written;
      }
      case Opcode.DESTROY:
        this.reset();
        return rq.ok(0);
    }
    const op = OPS.get(rq.opcode);
    if (op === undefined) return rq.error(ENOSYS);
    if (!this.initialized) return rq.opcode === Opcode.FORGET || rq.opcode === Opcode.BATCH_FORGET ? 0 : rq.error(EIO);
    return op(rq, this.fs);
  }
}

/** A ChainHandler serving `config`'s directory to one front-end connection. */
export function createFuseHandler(
  config: ExportConfig,
  complete: CompletionSink,
  backend: BackendAccess = NO_BACKEND,
): ChainHandler {
  return new FuseServer(config, complete, backend);
}

/** The factory form the device loop takes: one handler per connection. */
export function fuseHandlerFactory(config: ExportConfig): ChainHandlerFactory {
  return (complete, backend) => createFuseHandler(config, complete, backend);
}
