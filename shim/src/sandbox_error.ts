// The domain error of a SandboxRuntime (sandbox_runtime.ts) and of the host mounts it makes: what
// went wrong, in the sandbox's terms, with its context in the message. It knows no wire codes:
// the Task API frame turns a kind into the status containerd reads, in one place (shim_error.ts).

import { errorMessage } from '@vfs/contracts';

export type SandboxErrorKind =
  /** A container or exec this sandbox does not have. */
  | 'not-found'
  /** The request (its rootfs, its mounts) cannot be served as given. */
  | 'bad-request'
  /** The vfs configuration or environment (QEMU settings, VFS_RUN_DIR) cannot work. */
  | 'bad-config'
  /** A part vfs needs on the host (kernel, initramfs, daemon, runtime share, QEMU) is missing or will not start. */
  | 'not-installed'
  /** The sandbox is not in a state for the call (it has no VM yet). */
  | 'wrong-state'
  /** The call needs what vfs does not do (adding shares to a running VM). */
  | 'unsupported'
  /** The VM, or its agent, is gone or not serving. */
  | 'unreachable'
  /** A step did not finish within its time limit. */
  | 'timeout'
  /** The host side failed: a mount, a teardown step, a daemon that died. */
  | 'host-failure'
  /** A failure from below (the agent's answer, a system error) given context but no kind: reported as its cause. */
  | 'unclassified';

export class SandboxError extends Error {
  readonly kind: SandboxErrorKind;

  constructor(kind: SandboxErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SandboxError';
    this.kind = kind;
  }

  /** Prefixes `context`: a SandboxError keeps its kind, anything else takes `kind`. */
  static wrap(err: unknown, context: string, kind: SandboxErrorKind = 'unclassified'): SandboxError {
    return new SandboxError(err instanceof SandboxError ? err.kind : kind, `${context}: ${errorMessage(err)}`, {
      cause: err,
    });
  }

  /** `first`, with what a clean-up after it said when that failed too; keeps `first`'s kind. */
  static alsoFailed(first: unknown, cleanup: string, err: unknown): SandboxError {
    const kind = first instanceof SandboxError ? first.kind : 'unclassified';
    return new SandboxError(kind, `${errorMessage(first)} (and ${cleanup}: ${errorMessage(err)})`, { cause: first });
  }
}
