/** Status lines vfs-launcher writes on its fd 4 (see agent/runtime/launcher/spawn.c). */

export type LauncherEvent =
  /** Descriptor numbers, in the launcher, of the agent's ends of the stdio pipes. */
  | { readonly kind: 'pipes'; readonly stdin: number; readonly stdout: number; readonly stderr: number }
  /** The child, inside the container, waits for the agent to open its pty master there. */
  | { readonly kind: 'console'; readonly pid: number }
  /** The child finished its set-up and waits at the barrier. */
  | { readonly kind: 'ready'; readonly pid: number }
  /** exec succeeded. */
  | { readonly kind: 'started'; readonly pid: number }
  | { readonly kind: 'error'; readonly errno: number; readonly message: string }
  | { readonly kind: 'warning'; readonly errno: number; readonly message: string }
  /** The child's wait status as runc reports it: the exit code, or 128 + signal. */
  | { readonly kind: 'exit'; readonly status: number }
  /** A plan without a child ran to its end. */
  | { readonly kind: 'done' };

function ints(text: string, count: number, line: string): number[] {
  const parts = text.split(' ');
  const values = parts.map(Number);
  if (parts.length !== count || values.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`malformed launcher status line "${line}"`);
  }
  return values;
}

function errnoAndMessage(rest: string, line: string): { errno: number; message: string } {
  const space = rest.indexOf(' ');
  const [errno] = ints(space < 0 ? rest : rest.slice(0, space), 1, line);
  return { errno: errno as number, message: space < 0 ? '' : rest.slice(space + 1) };
}

export function parseLauncherLine(line: string): LauncherEvent {
  const space = line.indexOf(' ');
  const word = space < 0 ? line : line.slice(0, space);
  const rest = space < 0 ? '' : line.slice(space + 1);
  switch (word) {
    case 'pipes': {
      const [stdin, stdout, stderr] = ints(rest, 3, line) as [number, number, number];
      return { kind: 'pipes', stdin, stdout, stderr };
    }
    case 'console':
    case 'ready':
    case 'started':
      return { kind: word, pid: ints(rest, 1, line)[0] as number };
    case 'exit':
      return { kind: 'exit', status: ints(rest, 1, line)[0] as number };
    case 'error':
    case 'warning':
      return { kind: word, ...errnoAndMessage(rest, line) };
    case 'done':
      return { kind: 'done' };
    default:
      throw new Error(`unknown launcher status line "${line}"`);
  }
}
