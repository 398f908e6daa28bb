// --translate-uid / --translate-gid at run time: the rules of @vfs/contracts' id_map as sorted
// range tables, one per direction and id kind, looked up by binary search without allocating
// (every request's credentials and every attribute sent go through them).
import { type IdMapDirection, type IdMapRule, parseIdMap } from '@vfs/contracts';
import type { AttrOwners } from '../fuse/encode';
import type { AclIdMaps } from './acl_ids';
import { EPERM } from '../fuse/errno';

const RANGE = 0;
const SQUASH = 1;
const FORBID = 2;
const KINDS = { range: RANGE, squash: SQUASH, forbid: FORBID } as const;

/** One direction of one id kind: disjoint [start, end) ranges, sorted by start. */
class IdTable {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly targets: Float64Array;
  private readonly kinds: Uint8Array;

  constructor(rules: readonly IdMapRule[]) {
    const sorted = [...rules].sort((a, b) => a.from - b.from);
    this.starts = Float64Array.from(sorted, (r) => r.from);
    this.ends = Float64Array.from(sorted, (r) => r.from + r.count);
    this.targets = Float64Array.from(sorted, (r) => r.to);
    this.kinds = Uint8Array.from(sorted, (r) => KINDS[r.kind]);
  }

  /** The id in the other domain, unchanged when no range holds it, or -EPERM when forbidden. */
  translate(id: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (id < this.starts[mid]!) hi = mid - 1;
      else if (id >= this.ends[mid]!) lo = mid + 1;
      else return this.apply(mid, id);
    }
    return id;
  }

  private apply(i: number, id: number): number {
    switch (this.kinds[i]) {
      case RANGE:
        return this.targets[i]! + (id - this.starts[i]!);
      case SQUASH:
        return this.targets[i]!;
      default:
        return -EPERM;
    }
  }
}

function table(rules: readonly IdMapRule[], direction: IdMapDirection): IdTable {
  return new IdTable(rules.filter((r) => r.direction === direction));
}

/** Both directions for uids and gids; with no rules every id passes unchanged. */
export class IdTranslation implements AttrOwners {
  private readonly uidToHostTable: IdTable;
  private readonly gidToHostTable: IdTable;
  private readonly uidToGuestTable: IdTable;
  private readonly gidToGuestTable: IdTable;
  /** Some rule is given: ids may change on their way. */
  readonly translates: boolean;
  /** For an ACL the guest sets, and one it reads. */
  readonly aclToHost: AclIdMaps = { uid: (id) => this.hostUid(id), gid: (id) => this.hostGid(id) };
  readonly aclToGuest: AclIdMaps = { uid: (id) => this.guestUid(id), gid: (id) => this.guestGid(id) };

  /** Throws IdMapError on a malformed rule (the command line checked them already). */
  constructor(uidSpecs: readonly string[] = [], gidSpecs: readonly string[] = []) {
    const uids = parseIdMap(uidSpecs);
    const gids = parseIdMap(gidSpecs);
    this.uidToHostTable = table(uids, 'guest-to-host');
    this.gidToHostTable = table(gids, 'guest-to-host');
    this.uidToGuestTable = table(uids, 'host-to-guest');
    this.gidToGuestTable = table(gids, 'host-to-guest');
    this.translates = uids.length + gids.length > 0;
  }

  /** The host uid a guest uid acts as (credentials, chown), or -EPERM (forbid-guest). */
  hostUid(guestUid: number): number {
    return this.uidToHostTable.translate(guestUid);
  }

  /** The host gid a guest gid acts as, or -EPERM. */
  hostGid(guestGid: number): number {
    return this.gidToHostTable.translate(guestGid);
  }

  /** The owner the guest is shown for a host uid (host→guest rules never forbid). */
  guestUid(hostUid: number): number {
    return this.uidToGuestTable.translate(hostUid);
  }

  guestGid(hostGid: number): number {
    return this.gidToGuestTable.translate(hostGid);
  }
}
