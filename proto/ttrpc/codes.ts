// gRPC status codes (google.rpc.Code): ttrpc carries them in google.rpc.Status, and containerd's
// errdefs maps them back to its error kinds (NotFound, AlreadyExists, FailedPrecondition, ...).

export enum Code {
  OK = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** The code's name for messages, or the number when a peer sent one we do not know. */
export function codeName(code: number): string {
  return Code[code] ?? String(code);
}
