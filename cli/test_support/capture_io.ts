// A CliIo whose output the test reads back.
import type { CliIo } from '../src/cli_io';

export interface CapturedIo {
  readonly io: CliIo;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

export function captureIo(env: NodeJS.ProcessEnv = {}, cwd = '/'): CapturedIo {
  let stdout = '';
  let stderr = '';
  return {
    io: { out: (text) => void (stdout += text), err: (text) => void (stderr += text), env, cwd },
    stdout: () => stdout,
    stderr: () => stderr,
  };
}
