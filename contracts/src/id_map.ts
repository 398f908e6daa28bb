// virtiofsd 1.13's uid/gid translation rules (`--translate-uid` / `--translate-gid`), as the daemon's
// command line and configuration.toml's [daemon] translate_uid / translate_gid give them. Each rule
// is `<type>:<a>:<b>:<count>` (forbid-guest: `<type>:<a>:<count>`):
//   guest:<guest base>:<host base>:<count>        guest ids of the range → the host range, 1:1
//   host:<host base>:<guest base>:<count>         host ids of the range → the guest range, 1:1
//   squash-guest:<guest base>:<host id>:<count>   every guest id of the range → one host id
//   squash-host:<host base>:<guest id>:<count>    every host id of the range → one guest id
//   forbid-guest:<guest base>:<count>             a guest id of the range gets EPERM
//   map:<guest base>:<host base>:<count>          guest: and host: together (both directions)
// Guest→host rules apply to the ids a request acts as and to chown; host→guest rules to the owners
// of the attributes the guest is sent. An id no rule covers passes unchanged. As virtiofsd, the
// separator is the first character that is not a letter, digit, '-' or '_' (':' in practice) and
// the source ranges of one direction must not overlap.

/** 4294967295 is chown's "unchanged" and no id: it is neither mapped nor a target. */
export const MAX_ID = 0xffff_fffe;

export type IdMapDirection = 'guest-to-host' | 'host-to-guest';

/** One range of one direction: its ids [from, from + count) become `to` (squash), `to + (id - from)` (range), or EPERM (forbid). */
export interface IdMapRule {
  readonly direction: IdMapDirection;
  readonly kind: 'range' | 'squash' | 'forbid';
  readonly from: number;
  readonly count: number;
  /** Unused for forbid. */
  readonly to: number;
  /** The rule as given, for messages. */
  readonly spec: string;
}

export class IdMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdMapError';
  }
}

interface RuleType {
  readonly fields: readonly string[];
  /** The rules one spec makes from its numbers [a, b, count] (forbid-guest: [a, count]). */
  readonly rules: (n: readonly number[]) => readonly Omit<IdMapRule, 'spec'>[];
}

const TYPES: Readonly<Record<string, RuleType>> = {
  guest: {
    fields: ['guest base', 'host base', 'count'],
    rules: ([g, h, c]) => [{ direction: 'guest-to-host', kind: 'range', from: g!, to: h!, count: c! }],
  },
  host: {
    fields: ['host base', 'guest base', 'count'],
    rules: ([h, g, c]) => [{ direction: 'host-to-guest', kind: 'range', from: h!, to: g!, count: c! }],
  },
  'squash-guest': {
    fields: ['guest base', 'host id', 'count'],
    rules: ([g, h, c]) => [{ direction: 'guest-to-host', kind: 'squash', from: g!, to: h!, count: c! }],
  },
  'squash-host': {
    fields: ['host base', 'guest id', 'count'],
    rules: ([h, g, c]) => [{ direction: 'host-to-guest', kind: 'squash', from: h!, to: g!, count: c! }],
  },
  'forbid-guest': {
    fields: ['guest base', 'count'],
    rules: ([g, c]) => [{ direction: 'guest-to-host', kind: 'forbid', from: g!, to: 0, count: c! }],
  },
  map: {
    fields: ['guest base', 'host base', 'count'],
    rules: ([g, h, c]) => [
      { direction: 'guest-to-host', kind: 'range', from: g!, to: h!, count: c! },
      { direction: 'host-to-guest', kind: 'range', from: h!, to: g!, count: c! },
    ],
  },
};

const SYNTAX = Object.entries(TYPES)
  .map(([type, t]) => `${type}:${t.fields.map((f) => `<${f}>`).join(':')}`)
  .join(', ');

function number(spec: string, field: string, token: string): number {
  const n = /^\d{1,10}$/.test(token) ? Number(token) : Number.NaN;
  if (!(n <= 0xffff_ffff)) throw new IdMapError(`'${spec}': ${field} '${token}' is not a number from 0 to 4294967295`);
  return n;
}

/** The range [from, from + count) must hold only ids. */
function checkRange(spec: string, what: string, from: number, count: number): void {
  if (from + count - 1 > MAX_ID) {
    throw new IdMapError(`'${spec}': ${what} [${from}, ${from + count}) goes past the last id ${MAX_ID}`);
  }
}

function checkRule(r: IdMapRule): void {
  const side = r.direction === 'guest-to-host' ? ['guest', 'host'] : ['host', 'guest'];
  if (r.count === 0) throw new IdMapError(`'${r.spec}': count 0 maps no id`);
  checkRange(r.spec, `${side[0]} ids`, r.from, r.count);
  if (r.kind === 'range') checkRange(r.spec, `${side[1]} ids`, r.to, r.count);
  if (r.kind === 'squash' && r.to > MAX_ID) throw new IdMapError(`'${r.spec}': ${side[1]} id ${r.to} is not an id`);
}

/** One `--translate-uid` / `--translate-gid` value as its rules; throws IdMapError naming the bad token. */
export function parseIdMapSpec(spec: string): IdMapRule[] {
  const sep = /[^A-Za-z0-9_-]/.exec(spec);
  if (sep === null) throw new IdMapError(`'${spec}': expected <type>:<ids>…, one of ${SYNTAX}`);
  const type = spec.slice(0, sep.index).toLowerCase();
  const t = Object.hasOwn(TYPES, type) ? TYPES[type] : undefined;
  if (t === undefined) throw new IdMapError(`'${spec}': unknown type '${type}' (expected one of ${SYNTAX})`);
  const tokens = spec.slice(sep.index + 1).split(sep[0]);
  if (tokens.length !== t.fields.length) {
    const form = `${type}:${t.fields.map((f) => `<${f}>`).join(':')}`;
    throw new IdMapError(`'${spec}': ${form} takes ${t.fields.length} numbers, got ${tokens.length}`);
  }
  const numbers = tokens.map((token, i) => number(spec, t.fields[i]!, token));
  const rules = t.rules(numbers).map((r) => ({ ...r, spec }));
  for (const r of rules) checkRule(r);
  return rules;
}

function overlaps(a: IdMapRule, b: IdMapRule): boolean {
  return a.direction === b.direction && a.from < b.from + b.count && b.from < a.from + a.count;
}

/** Every rule of a flag's values, in order; the source ranges of one direction must be disjoint. */
export function parseIdMap(specs: readonly string[]): IdMapRule[] {
  const rules: IdMapRule[] = [];
  for (const spec of specs) {
    for (const rule of parseIdMapSpec(spec)) {
      const clash = rules.find((r) => overlaps(r, rule));
      if (clash !== undefined) {
        const ids = rule.direction === 'guest-to-host' ? 'guest ids' : 'host ids';
        throw new IdMapError(
          `'${spec}': ${ids} [${rule.from}, ${rule.from + rule.count}) overlap [${clash.from}, ${clash.from + clash.count}) of '${clash.spec}'`,
        );
      }
      rules.push(rule);
    }
  }
  return rules;
}

/** Why these values of one flag cannot be used, or null when they can. */
export function idMapProblem(specs: readonly string[]): string | null {
  try {
    parseIdMap(specs);
    return null;
  } catch (err) {
    if (err instanceof IdMapError) return err.message;
    throw err;
  }
}
