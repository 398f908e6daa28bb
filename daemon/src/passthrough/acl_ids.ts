// The users and groups a POSIX ACL names travel inside its xattr value (posix_acl_xattr: a u32
// version 2, then 8-byte entries {u16 tag, u16 perm, u32 id}; only ACL_USER and ACL_GROUP
// entries carry an id). With --translate-uid / --translate-gid they are translated as owners are:
// guest→host when the guest sets an ACL, host→guest when it reads one.
import { EPERM } from '../fuse/errno';

const ACL_XATTR_VERSION = 2;
const HEADER = 4;
const ENTRY = 8;
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;

const ACCESS = Buffer.from('system.posix_acl_access\0', 'latin1');
const DEFAULT = Buffer.from('system.posix_acl_default\0', 'latin1');

/** Whether `name` starts with `acl` (both NUL-terminated): the name is that one. */
const isName = (name: Buffer, acl: Buffer): boolean =>
  name.length >= acl.length && name.subarray(0, acl.length).equals(acl);

/** Whether the NUL-terminated name `name` starts with (as the guest sent it) is one of the two ACL xattrs. */
export const isAclName = (name: Buffer): boolean => isName(name, ACCESS) || isName(name, DEFAULT);

/** Whether it is the access ACL, the one that sets a file's mode. */
export const isAccessAclName = (name: Buffer): boolean => isName(name, ACCESS);

export interface AclIdMaps {
  uid(id: number): number;
  gid(id: number): number;
}

/**
 * Rewrites the ids of the ACL in `value`'s first `len` bytes in place. A value that is not a
 * well-formed ACL is left for the host kernel to refuse; an id a rule forbids is -EPERM (the value
 * is then half rewritten: not to be used). 0 or -errno.
 */
export function translateAclIds(value: Buffer, len: number, maps: AclIdMaps): number {
  if (len < HEADER || (len - HEADER) % ENTRY !== 0 || value.readUInt32LE(0) !== ACL_XATTR_VERSION) return 0;
  for (let at = HEADER; at < len; at += ENTRY) {
    const tag = value.readUInt16LE(at);
    if (tag !== ACL_USER && tag !== ACL_GROUP) continue;
    const id = tag === ACL_USER ? maps.uid(value.readUInt32LE(at + 4)) : maps.gid(value.readUInt32LE(at + 4));
    if (id < 0) return -EPERM;
    value.writeUInt32LE(id, at + 4);
  }
  return 0;
}
