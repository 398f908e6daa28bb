// ttrpc metadata: repeated key/value pairs in the Request (there is none in a Response), e.g.
// containerd's namespace under "containerd-namespace-ttrpc".

import type { KeyValue } from '../gen/ttrpc/request';

/** What a handler sees: every value a key was sent with, in order. */
export type Metadata = ReadonlyMap<string, readonly string[]>;

/** What a caller passes: a single value or several per key. */
export type MetadataInit = Metadata | Readonly<Record<string, string | readonly string[]>>;

function entriesOf(init: MetadataInit): Iterable<readonly [string, string | readonly string[]]> {
  return init instanceof Map ? init.entries() : Object.entries(init);
}

export function metadataToKeyValues(init: MetadataInit | undefined): KeyValue[] {
  if (init === undefined) {
    return [];
  }
  const pairs: KeyValue[] = [];
  for (const [key, value] of entriesOf(init)) {
    for (const one of typeof value === 'string' ? [value] : value) {
      pairs.push({ key, value: one });
    }
  }
  return pairs;
}

/** A Map, not an object: keys come from the peer and must not reach Object.prototype. */
export function metadataFromKeyValues(pairs: readonly KeyValue[]): Metadata {
  const md = new Map<string, string[]>();
  for (const { key, value } of pairs) {
    const values = md.get(key);
    if (values === undefined) {
      md.set(key, [value]);
    } else {
      values.push(value);
    }
  }
  return md;
}

/** The first value of a key, the usual way a single-valued key is read. */
export function metadataValue(md: Metadata, key: string): string | undefined {
  return md.get(key)?.[0];
}
