// What one export looks like to the FUSE server, and the cache policy derived from it.
import type { CacheMode, InodeFileHandles } from '../cli';
import type { Logger } from '../log';
import { Fopen } from '../fuse/abi';

export interface ExportConfig {
  /**
   * An fd of the exported directory (O_PATH|O_DIRECTORY is enough). It is the root inode of every
   * session; the caller keeps owning it and closes it after the last handler is gone.
   */
  readonly rootFd: number;
  /**
   * An fd of /proc/self/fd (openProcSelfFd(), before any sandboxing hides /proc), through which
   * O_PATH inode fds are reopened for I/O. Shared by every export; the caller owns it.
   */
  readonly procSelfFd: number;
  readonly readonly: boolean;
  readonly cache: CacheMode;
  /** Extended attributes; off answers ENOSYS, after which the guest stops asking. */
  readonly xattr: boolean;
  /** virtiofsd xattr mapping rules (see xattr_map.ts); implies xattr. */
  readonly xattrmap?: string;
  readonly posixLocks: boolean;
  readonly flock: boolean;
  readonly readdirplus: boolean;
  readonly writeback: boolean;
  /** Pass O_DIRECT from the guest through to the host (off: it is dropped, as virtiofsd does). */
  readonly allowDirectIo: boolean;
  /**
   * Let the guest map files opened FOPEN_DIRECT_IO (cache=none) shared, through its page cache
   * (FUSE_DIRECT_IO_ALLOW_MMAP, Linux ≥ 6.6); off, such a mapping fails with ENODEV in the guest.
   */
  readonly allowMmap?: boolean;
  /**
   * POSIX ACLs (virtiofsd's --posix-acl; with xattr only): the guest kernel enforces the ACLs it
   * reads as system.posix_acl_* xattrs and leaves the umask to the daemon (FUSE_POSIX_ACL +
   * FUSE_DONT_MASK), which creates files under the caller's umask, so the host applies a parent's
   * default ACL instead where it has one.
   */
  readonly posixAcl?: boolean;
  /**
   * Negotiate FUSE_HANDLE_KILLPRIV_V2 (the default): the guest leaves clearing set-user-ID and
   * set-group-ID bits on write, truncate and chown to the daemon. false: it clears them itself.
   */
  readonly killprivV2?: boolean;
  /** Mark directories on another host mount with FUSE_ATTR_SUBMOUNT. */
  readonly announceSubmounts: boolean;
  /**
   * Hold inodes as file handles (inode_handles.ts); never when not given. Handles open on rootFd's
   * mount only if rootFd is not O_PATH (prefer then falls back to fds).
   */
  readonly inodeFileHandles?: InodeFileHandles;
  /** virtiofsd's --translate-uid / --translate-gid rules (@vfs/contracts id_map); none: ids pass unchanged. */
  readonly translateUid?: readonly string[];
  readonly translateGid?: readonly string[];
  /**
   * DAX: map file ranges into the front-end's shared-memory window (SETUPMAPPING/REMOVEMAPPING)
   * and advertise FUSE_MAP_ALIGNMENT. The window itself is the device's (DeviceOptions.shmemSizes).
   */
  readonly dax?: boolean;
  /**
   * Per-inode DAX (with dax): negotiate FUSE_HAS_INODE_DAX and mark regular files of at least this
   * many bytes with FUSE_ATTR_DAX, so a guest mounted dax=inode maps only those and reads small
   * files through its page cache (each mapping costs a whole 2 MiB range). Absent: every file.
   */
  readonly daxMinFileBytes?: number;
  /** What one guest session may make the daemon hold; DEFAULT_LIMITS when not given. */
  readonly limits?: ResourceLimits;
  readonly logger: Logger;
}

/**
 * Bounds on what a guest can make the daemon hold, per session. A request that would go past one
 * gets an errno (see each); the daemon's other work goes on. Chain slots are bounded by the
 * queue size the front-end sets, DAX mappings by the window (one per 2 MiB chunk).
 */
export interface ResourceLimits {
  /** Open files and directories (OPEN, CREATE, OPENDIR; one fd each): ENFILE beyond. */
  readonly maxOpenHandles: number;
  /** POSIX lock owners holding locks, counted per file (one open file description each): ENOLCK beyond. */
  readonly maxLockOwners: number;
  /** SETLKW requests waiting for a lock (each keeps its chain and is retried every 10 ms): ENOLCK beyond. */
  readonly maxParkedLocks: number;
}

export const DEFAULT_LIMITS: ResourceLimits = {
  maxOpenHandles: 262_144,
  maxLockOwners: 65_536,
  maxParkedLocks: 256,
};

export interface CachePolicy {
  /** Entry and attribute timeout, whole seconds. */
  readonly timeoutSec: number;
  /** fuse_open_out.open_flags for files and for directories. */
  readonly fileOpenFlags: number;
  readonly dirOpenFlags: number;
}

/**
 * As the C and Rust virtiofsd: none = no caching at all (direct I/O); metadata = long-lived
 * metadata, uncached data; auto = 1 s, close-to-open data consistency; always = long-lived
 * metadata, kept data and cached directory contents.
 */
export function cachePolicy(mode: CacheMode): CachePolicy {
  switch (mode) {
    case 'none':
      return { timeoutSec: 0, fileOpenFlags: Fopen.DIRECT_IO, dirOpenFlags: 0 };
    case 'metadata':
      return { timeoutSec: 86400, fileOpenFlags: Fopen.DIRECT_IO, dirOpenFlags: 0 };
    case 'auto':
      return { timeoutSec: 1, fileOpenFlags: 0, dirOpenFlags: 0 };
    case 'always':
      return { timeoutSec: 86400, fileOpenFlags: Fopen.KEEP_CACHE, dirOpenFlags: Fopen.CACHE_DIR };
  }
}
