// Whether a directory node is still inside the export. A node is an O_PATH fd, and the host can
// rename its directory out of the exported tree; the fd follows it, so CREATE under that node
// would write outside the share. The fd keeps its mount (its mount id never changes), so we ask
// the kernel's own bind-mount check instead: resolving ".." from a directory no longer below its
// mount's root fails with ENOENT (path_connected() in follow_dotdot). One statx, no fd.
//
// So a node is bounded by the root of the mount it was looked up in, the export's or a submount's
// (a container dir the shim binds). That bound is the export's when the export root is a mount
// root: the sandbox binds the shared dir at /shared. A plain export dir inside a larger mount
// (--sandbox=none, or a share's top level in multi-export mode, which holds only the shim's mount
// points) bounds nothing. Only directories are checked: a file's content is what the guest could
// already hold open across the move, while a directory hands out new names.
import { AT_SYMLINK_NOFOLLOW, cPath, S_IFDIR, STATX_SIZE, statx } from '../sys/fs';
import { FUSE_ROOT_ID } from '../fuse/abi';
import { ENOENT, ESTALE } from '../fuse/errno';
import type { Inode } from './inode_table';

const DOTDOT = cPath('..');
/** The statx result is not read: only whether ".." resolves. */
const scratch = Buffer.alloc(STATX_SIZE);

/**
 * 0 when `inode` is a directory still below its mount's root (or not a directory); -ESTALE when
 * the host moved it out, so the guest's kernel drops the node and looks the path up again (its
 * ESTALE retry); another -errno when ".." could not be resolved (the request fails closed).
 * Call it with the daemon's own credentials, before enterCreds.
 */
export function escapedError(inode: Inode): number {
  if (inode.type !== S_IFDIR || inode.nodeid === FUSE_ROOT_ID) return 0;
  // A handle inode's fd may no longer open (ESTALE): that is the answer.
  const fd = inode.fd;
  if (fd < 0) return fd;
  const r = statx(fd, DOTDOT, AT_SYMLINK_NOFOLLOW, 0, scratch);
  return r === -ENOENT ? -ESTALE : Math.min(r, 0);
}
