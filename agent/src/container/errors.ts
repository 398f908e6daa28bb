/** The one error class of the container runtime layer: a code to branch on, and the context. */
import { constants } from 'node:os';

export type ContainerErrorCode =
  | 'INVALID_SPEC'
  | 'UNSUPPORTED'
  | 'ALREADY_EXISTS'
  | 'NOT_FOUND'
  | 'BAD_STATE'
  | 'LAUNCH_FAILED'
  | 'CGROUP_FAILED'
  | 'GUEST_SETUP_FAILED';

export interface ContainerErrorContext {
  readonly containerId?: string;
  readonly execId?: string;
  /** errno from the failing syscall, when the cause is one. */
  readonly errno?: number;
  readonly cause?: unknown;
}

export class ContainerError extends Error {
  readonly code: ContainerErrorCode;
  readonly containerId?: string;
  readonly execId?: string;
  readonly errno?: number;

  constructor(code: ContainerErrorCode, message: string, context: ContainerErrorContext = {}) {
    super(prefix(context) + message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'ContainerError';
    this.code = code;
    this.containerId = context.containerId;
    this.execId = context.execId;
    this.errno = context.errno;
  }

  /** The symbolic errno (ENOENT) when there is one. */
  get errnoName(): string | undefined {
    return this.errno === undefined ? undefined : errnoName(this.errno);
  }
}

function prefix(context: ContainerErrorContext): string {
  if (context.containerId === undefined) return '';
  const exec = context.execId === undefined ? '' : ` exec ${context.execId}`;
  return `container ${context.containerId}${exec}: `;
}

export function errnoName(errno: number): string | undefined {
  for (const [name, value] of Object.entries(constants.errno)) {
    if (value === errno) return name;
  }
  return undefined;
}
