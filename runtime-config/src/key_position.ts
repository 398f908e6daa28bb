// Finds the line of a key in TOML source. smol-toml reports positions only for syntax errors, so
// for unknown keys and wrong types the loader scans the text: it tracks the current table header
// and skips multi-line strings, so a key of the same name in another table or inside a string
// does not match.

const TABLE_HEADER = /^\s*\[\s*([^\]\s][^\]]*?)\s*\]\s*(#.*)?$/;
const ARRAY_TABLE_HEADER = /^\s*\[\[/;

/** `"a"."b c".d` → ['a', 'b c', 'd']. Only bare and double/single-quoted parts, as configuration.toml uses. */
export function splitDottedKey(text: string): string[] {
  const parts: string[] = [];
  const pattern = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/y;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < text.length && (match = pattern.exec(text)) !== null) {
    parts.push(match[1] ?? match[2] ?? match[3] ?? '');
    if (match[4] === '') break;
  }
  return parts;
}

function keyOfLine(line: string): string[] | undefined {
  const eq = line.indexOf('=');
  if (eq <= 0 || /^\s*#/.test(line)) return undefined;
  const parts = splitDottedKey(line.slice(0, eq));
  return parts.length > 0 ? parts : undefined;
}

/** Toggles the "inside a multi-line string" state for every ''' or """ the line opens or closes. */
function multilineDelimiterCount(line: string): number {
  return (line.match(/"""|'''/g) ?? []).length;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

/**
 * The 1-based line where `path` (e.g. ['hypervisor', 'vcpus']) is defined, either as `key =` under
 * its table's header or as a dotted key in a parent table; for a table itself, its header line.
 */
export function findKeyLine(source: string, path: readonly string[]): number | undefined {
  const lines = source.split('\n');
  let table: string[] = [];
  let inMultiline = false;
  for (const [index, line] of lines.entries()) {
    const wasInMultiline = inMultiline;
    if (multilineDelimiterCount(line) % 2 === 1) inMultiline = !inMultiline;
    if (wasInMultiline) continue;
    const header = TABLE_HEADER.exec(line);
    if (header !== null && !ARRAY_TABLE_HEADER.test(line)) {
      table = splitDottedKey(header[1] ?? '');
      if (samePath(table, path)) return index + 1;
      continue;
    }
    const key = keyOfLine(line);
    if (key === undefined) continue;
    const full = [...table, ...key];
    if (samePath(full, path)) return index + 1;
    // `hypervisor = { vcpus = 2 }`: the inline table's line is the closest one we can name.
    if (full.length < path.length && samePath(full, path.slice(0, full.length)) && /=\s*\{/.test(line))
      return index + 1;
  }
  return undefined;
}
