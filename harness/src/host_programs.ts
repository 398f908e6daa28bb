// Unit tests that run a program from a Debian package rather than from node_modules (QEMU, attr,
// protoc, …). `make check` needs only `npm ci`, so on a host without the program the cases that
// run it skip, with a line on stderr naming the program and its package; where it is installed
// (CI and `make deps` install them all) they run as written.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Each program the unit tests run that a minimal Debian lacks, and the package that has it. */
const DEBIAN_PACKAGES = {
  'qemu-system-x86_64': 'qemu-system-x86',
  '/usr/lib/qemu/virtiofsd': 'qemu-system-common',
  getfattr: 'attr',
  setfattr: 'attr',
  getfacl: 'acl',
  setfacl: 'acl',
  // generate.sh also reads protoc's well-known types from libprotobuf-dev.
  protoc: 'protobuf-compiler',
  containerd: 'containerd',
  // The guest's /init is busybox sh: its functions are tested under the same shell.
  '/bin/busybox': 'busybox-static',
} as const;

export type HostProgram = keyof typeof DEBIAN_PACKAGES;

type Body = () => void;

/** `describe` and `it` for the cases that run the programs: jest's own, or skips that say why. */
export interface HostProgramGate {
  /** The programs that were not found, empty when the cases run. */
  readonly missing: readonly HostProgram[];
  describe(name: string, body: Body): void;
  it(name: string, body: jest.ProvidesCallback, timeoutMs?: number): void;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Where `program` runs from: itself when it is a path, else the first executable of that name on $PATH. */
export function findProgram(program: string, searchPath: string = process.env['PATH'] ?? ''): string | undefined {
  const candidates = program.includes('/')
    ? [program]
    : searchPath
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, program));
  return candidates.find(isExecutableFile);
}

/** The gate for cases that need every one of `programs`, looked up on $PATH now. */
export function hostPrograms(...programs: HostProgram[]): HostProgramGate {
  const missing = programs.filter((program) => findProgram(program) === undefined);
  if (missing.length === 0) return { missing, describe, it };
  const why = missing.map((program) => `${program} (Debian package ${DEBIAN_PACKAGES[program]})`).join(', ');
  const note = (name: string): void => {
    process.stderr.write(`skipped, no ${why}: ${name}\n`);
  };
  return {
    missing,
    describe: (name, body) => {
      note(name);
      describe.skip(name, body);
    },
    it: (name, body, ms) => {
      note(name);
      it.skip(name, body, ms);
    },
  };
}
