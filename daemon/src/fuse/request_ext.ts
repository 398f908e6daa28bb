// Request extensions (FUSE 7.38): blocks the kernel appends after a creation's arguments, when INIT
// enabled them, as many 8-byte units as the in-header's total_extlen says. Each starts with
// fuse_ext_header { u32 size; u32 type; }.
import { InHeader } from './abi';
import { EINVAL } from './errno';
import type { Request } from './request';

const FUSE_EXT_GROUPS = 2;
const EXT_HEADER_SIZE = 8;
/** fuse_ext_header, then fuse_supp_groups { u32 nr_groups; u32 groups[1]; } */
const GROUPS_EXT_SIZE = EXT_HEADER_SIZE + 8;
/** suppGroupOf found none (above every gid). */
export const NO_SUPP_GROUP = 2 ** 32;

/**
 * The group FUSE_CREATE_SUPP_GROUP sends with a creation: the parent directory's, when the caller
 * belongs to it by a supplementary group. NO_SUPP_GROUP when there is none, -EINVAL when the
 * extensions are malformed.
 */
export function suppGroupOf(rq: Request): number {
  const extLen = rq.argsView.getUint16(InHeader.totalExtlen, true) * 8;
  if (extLen > rq.argLen) return -EINVAL;
  const end = rq.argLen;
  let off = end - extLen;
  while (off < end) {
    const size = rq.u32(off);
    if (size < EXT_HEADER_SIZE || size % 8 !== 0 || size > end - off) return -EINVAL;
    if (rq.u32(off + 4) === FUSE_EXT_GROUPS) {
      // The kernel sends exactly one group.
      return size < GROUPS_EXT_SIZE || rq.u32(off + EXT_HEADER_SIZE) !== 1
        ? -EINVAL
        : rq.u32(off + EXT_HEADER_SIZE + 4);
    }
    off += size;
  }
  return NO_SUPP_GROUP;
}
