// The errno values replied to the guest (Linux numbering: the guest is always Linux).
import { constants } from 'node:os';

const e = constants.errno;
export const EPERM = e.EPERM;
export const ENOENT = e.ENOENT;
export const EINTR = e.EINTR;
export const EIO = e.EIO;
export const EBADF = e.EBADF;
export const EAGAIN = e.EAGAIN;
export const EACCES = e.EACCES;
export const EEXIST = e.EEXIST;
export const ENOTDIR = e.ENOTDIR;
export const EISDIR = e.EISDIR;
export const EINVAL = e.EINVAL;
export const EROFS = e.EROFS;
export const ERANGE = e.ERANGE;
export const ENAMETOOLONG = e.ENAMETOOLONG;
export const ENOSYS = e.ENOSYS;
export const ENODATA = e.ENODATA;
export const EPROTO = e.EPROTO;
export const ENOTSUP = e.ENOTSUP;
export const ELOOP = e.ELOOP;
export const EWOULDBLOCK = e.EWOULDBLOCK;
export const ENFILE = e.ENFILE;
export const EMFILE = e.EMFILE;
export const ENOLCK = e.ENOLCK;
export const ESTALE = e.ESTALE;
