// A VM template's state file, as QEMU 7.2 reads and writes it: through a command (`exec:cat PATH`)
// that QEMU runs with /bin/sh, not as a file. Shared by the configuration's check of
// [factory] template_path and the shim, which builds the commands.

/** The paths that reach /bin/sh as they are: absolute, of plain characters only. */
export const SHELL_PLAIN_PATH = /^\/[A-Za-z0-9/._+-]+$/;
