// vfs-launcher is static C, so it cannot import the plan's step table: this reads its sources as
// text and proves the C table, its dispatch and the agent's PLAN_STEP_ARITY name the same steps
// with the same argument counts, and that every status line the launcher writes is one the agent
// parses. A step added, renamed or re-shaped on one side only fails here, not in a container start.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLAN_STEP_ARITY } from './launch_plan';
import { parseLauncherLine } from './launcher_protocol';

const LAUNCHER = join(__dirname, '..', '..', 'runtime', 'launcher');
const MAIN_C = readFileSync(join(LAUNCHER, 'main.c'), 'utf8');

function section(pattern: RegExp, what: string): string {
  const body = pattern.exec(MAIN_C)?.[1];
  if (body === undefined) throw new Error(`main.c has no ${what} matching ${pattern}`);
  return body;
}

/** `static const struct step steps[] = { {"name", arity}, … };` as name → arity. */
function cStepTable(): Record<string, number> {
  const table = section(/static const struct step steps\[\] = \{([\s\S]*?)\n\};/, 'step table');
  return Object.fromEntries([...table.matchAll(/\{"(\w+)", (\d+)\}/g)].map(([, name, arity]) => [name, Number(arity)]));
}

/** run_step's `if (!strcmp(name, "x")) call(a[0], …);` branches as name → how many of a[] it passes. */
function cDispatch(): Record<string, number> {
  const body = section(/static void run_step\([^)]*\) \{\n([\s\S]*?)\n\}/, 'run_step');
  // One branch per `else`, however the formatter wraps the call.
  const branches = body.split(/\belse\b/).map((branch) => /!strcmp\(name, "(\w+)"\)\)([\s\S]*)$/.exec(branch));
  return Object.fromEntries(
    branches
      .filter((match): match is RegExpExecArray => match !== null)
      .map(([, name, call = '']) => [name, new Set(call.match(/\ba\[\d+\]/g)).size]),
  );
}

const sortedEntries = (table: Readonly<Record<string, number>>): [string, number][] =>
  Object.entries(table).sort(([a], [b]) => a.localeCompare(b));

describe('the launcher plan step table', () => {
  it('names the same steps with the same argument counts in main.c and in the agent', () => {
    expect(sortedEntries(cStepTable())).toEqual(sortedEntries(PLAN_STEP_ARITY));
  });

  it('dispatches every step of the C table, passing it as many arguments as the table reads', () => {
    expect(sortedEntries(cDispatch())).toEqual(sortedEntries(cStepTable()));
  });

  it('has room in main.c for the widest step', () => {
    const maxArgs = Number(section(/^#define MAX_ARGS (\d+)$/m, 'MAX_ARGS'));
    expect(Math.max(...Object.values(PLAN_STEP_ARITY))).toBeLessThanOrEqual(maxArgs);
  });
});

/** The first word of every `report("…")` format in the launcher's C sources. */
function cStatusWords(): string[] {
  const sources = readdirSync(LAUNCHER).filter((file) => file.endsWith('.c'));
  const words = sources.flatMap((file) =>
    [...readFileSync(join(LAUNCHER, file), 'utf8').matchAll(/\breport\("(\w+)/g)].map(([, word = '']) => word),
  );
  return [...new Set(words)].sort();
}

describe('the launcher status lines', () => {
  it('are all ones the agent parses', () => {
    const words = cStatusWords();
    expect(words.length).toBeGreaterThan(0);
    const unknown = words.filter((word) => {
      try {
        parseLauncherLine(word);
        return false;
      } catch (err) {
        return /unknown launcher status line/.test((err as Error).message);
      }
    });
    expect(unknown).toEqual([]);
  });
});
