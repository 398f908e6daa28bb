// How a QEMU process ended, and the words for it in errors and logs.

export interface QemuExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Last lines of QEMU's stderr, for error messages. */
  readonly stderrTail: string;
}

export function describeExit(exit: QemuExit): string {
  // An adopted QEMU is not our child: its status is not ours to read.
  const status = exit.signal ?? (exit.code === null ? 'status unknown' : `code ${exit.code}`);
  return `QEMU exited (${status})${exit.stderrTail === '' ? '' : `: ${exit.stderrTail}`}`;
}
