// virtiofsd's xattr name mapping (the `--xattrmap` rule language), so a guest overlayfs can keep
// its trusted.* attributes in the host's user.* namespace: `:map:trusted.:user.virtiofs.:`.
//
// A rule is `<sep>type<sep>scope<sep>key<sep>prepend<sep>`, the separator being its first
// non-blank character. type: prefix | ok | bad | unsupported; scope: client (names from the guest:
// get/set/remove) | server (names from the host: list) | all. The first matching rule wins, and a
// name no rule matches is refused (client) or hidden (server). `<sep>map<sep>key<sep>prepend<sep>`
// must come last and expands to the rules virtiofsd generates for it.
import { EPERM, ENOTSUP } from '../fuse/errno';

type RuleType = 'prefix' | 'ok' | 'bad' | 'unsupported';

interface Rule {
  readonly type: RuleType;
  readonly client: boolean;
  readonly server: boolean;
  readonly key: string;
  readonly prepend: string;
}

export class XattrMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XattrMapError';
  }
}

const TYPES: readonly string[] = ['prefix', 'ok', 'bad', 'unsupported'];

function scopeOf(scope: string): { client: boolean; server: boolean } {
  switch (scope) {
    case 'client':
      return { client: true, server: false };
    case 'server':
      return { client: false, server: true };
    case 'all':
      return { client: true, server: true };
    default:
      throw new XattrMapError(`xattrmap: unknown scope '${scope}' (expected client|server|all)`);
  }
}

function expandMap(key: string, prepend: string): Rule[] {
  const rule = (type: RuleType, client: boolean, server: boolean, k: string, p: string): Rule => ({
    type,
    client,
    server,
    key: k,
    prepend: p,
  });
  if (key === '') return [rule('prefix', true, true, '', prepend), rule('bad', true, true, '', '')];
  return [
    rule('prefix', true, true, key, prepend),
    rule('bad', false, true, '', key),
    rule('bad', true, false, prepend, ''),
    rule('ok', true, true, '', ''),
  ];
}

/** Splits `rest` (starting just after a separator) into `n` fields each closed by `sep`. */
function fields(rest: string, sep: string, n: number): { fields: string[]; rest: string } {
  const out: string[] = [];
  let s = rest;
  for (let i = 0; i < n; i++) {
    const end = s.indexOf(sep);
    if (end < 0) throw new XattrMapError(`xattrmap: rule is missing a closing '${sep}'`);
    out.push(s.slice(0, end));
    s = s.slice(end + 1);
  }
  return { fields: out, rest: s };
}

export class XattrMap {
  private constructor(private readonly rules: readonly Rule[]) {}

  static parse(spec: string): XattrMap {
    const rules: Rule[] = [];
    let s = spec.trimStart();
    while (s !== '') {
      const sep = s[0];
      const typeField = fields(s.slice(1), sep, 1);
      const type = typeField.fields[0];
      if (type === 'map') {
        const m = fields(typeField.rest, sep, 2);
        if (m.rest.trim() !== '') throw new XattrMapError("xattrmap: 'map' must be the last rule");
        rules.push(...expandMap(m.fields[0], m.fields[1]));
        break;
      }
      if (!TYPES.includes(type))
        throw new XattrMapError(`xattrmap: unknown type '${type}' (expected prefix|ok|bad|unsupported|map)`);
      const f = fields(typeField.rest, sep, 3);
      rules.push({ type: type as RuleType, ...scopeOf(f.fields[0]), key: f.fields[1], prepend: f.fields[2] });
      s = f.rest.trimStart();
    }
    if (rules.length === 0) throw new XattrMapError('xattrmap: no rules');
    return new XattrMap(rules);
  }

  /** The host name for a name from the guest, or -errno when the guest may not use it. */
  toHost(name: string): string | number {
    for (const r of this.rules) {
      if (!r.client || !name.startsWith(r.key)) continue;
      switch (r.type) {
        case 'prefix':
          return r.prepend + name;
        case 'ok':
          return name;
        case 'bad':
          return -EPERM;
        case 'unsupported':
          return -ENOTSUP;
      }
    }
    return -EPERM;
  }

  /** The name the guest sees for a host name, or null when it is hidden. */
  toGuest(name: string): string | null {
    for (const r of this.rules) {
      if (!r.server || !name.startsWith(r.prepend)) continue;
      switch (r.type) {
        case 'prefix':
          return name.slice(r.prepend.length);
        case 'ok':
          return name;
        case 'bad':
        case 'unsupported':
          return null;
      }
    }
    return null;
  }
}

const ACL_NAMES = ['system.posix_acl_access', 'system.posix_acl_default'];

/**
 * Whether the map `spec` (valid; none: every name) passes both POSIX ACL xattrs through unchanged,
 * both ways: without that a guest kernel enforcing ACLs fails reads it cannot make sense of
 * (EOPNOTSUPP is not "no ACL" to it), or keeps ACLs the host neither applies nor inherits.
 */
export function passesAcls(spec: string | undefined): boolean {
  if (spec === undefined) return true;
  const map = XattrMap.parse(spec);
  return ACL_NAMES.every((name) => map.toHost(name) === name && map.toGuest(name) === name);
}

/** Why `spec` is not a valid xattr map (the rule at fault), or null: for checking options up front. */
export function xattrMapProblem(spec: string): string | null {
  try {
    XattrMap.parse(spec);
    return null;
  } catch (err) {
    if (err instanceof XattrMapError) return err.message;
    throw err;
  }
}
