// Running a host program for what it prints (`qemu-system-x86_64 --version`, `-device help`,
// `containerd --version`): never throws, so a check can report a missing program as a line.
import { type ExecFileException, execFile } from 'node:child_process';

export type CommandResult =
  | { readonly ok: true; readonly stdout: string }
  | { readonly ok: false; readonly error: string };

/** Generous: QEMU answers `-device help` in well under a second even under emulation. */
const TIMEOUT_MS = 10_000;

function problem(file: string, err: ExecFileException, stderr: string): string {
  // ENOENT arrives as a string code, which ExecFileException's type does not say.
  const code: unknown = err.code;
  if (code === 'ENOENT') return `${file} not found${file.includes('/') ? '' : ' on PATH'}`;
  if (err.killed === true) return `${file} did not answer within ${TIMEOUT_MS / 1000} s`;
  const said = firstLine(stderr);
  const how = typeof code === 'number' ? `exit status ${code}` : err.message;
  return `${file} failed (${how})${said === '' ? '' : `: ${said}`}`;
}

/** The program's stdin is closed at once: nothing it runs here reads input. */
export function runCommand(file: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    const options = { timeout: TIMEOUT_MS, maxBuffer: 8 * 1024 * 1024 };
    const child = execFile(file, [...args], options, (err, stdout, stderr) => {
      resolve(err === null ? { ok: true, stdout } : { ok: false, error: problem(file, err, stderr) });
    });
    // A program that exits before its stdin is closed must not turn into an EPIPE crash.
    child.stdin?.on('error', () => {});
    child.stdin?.end();
  });
}

export function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

/** The first line of what the program printed, or why there is none. */
export function versionLine(result: CommandResult): string {
  return result.ok ? firstLine(result.stdout) : `unavailable (${result.error})`;
}
