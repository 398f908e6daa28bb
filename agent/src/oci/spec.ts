/**
 * The subset of the OCI runtime spec (config.json, runtime-spec 1.x) the guest agent consumes,
 * and its validator. Fields not listed here are ignored; fields listed are checked strictly, so
 * a malformed spec fails before anything is mounted, with the JSON path of the problem.
 */
import {
  absPath,
  arrayOf,
  bool,
  cstr,
  int,
  obj,
  oneOf,
  opt,
  recordOf,
  SpecError,
  str,
  uint32,
  type Check,
} from './json_check';

export { SpecError };

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup'] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export interface OciUser {
  readonly uid: number;
  readonly gid: number;
  readonly umask?: number;
  readonly additionalGids?: readonly number[];
}

export interface OciCapabilities {
  readonly bounding?: readonly string[];
  readonly effective?: readonly string[];
  readonly inheritable?: readonly string[];
  readonly permitted?: readonly string[];
  readonly ambient?: readonly string[];
}

export interface OciRlimit {
  readonly type: string;
  /** 2^64 (how JSON's 18446744073709551615 arrives) means unlimited. */
  readonly soft: number;
  readonly hard: number;
}

export interface OciConsoleSize {
  readonly height: number;
  readonly width: number;
}

export interface OciProcess {
  readonly terminal?: boolean;
  readonly consoleSize?: OciConsoleSize;
  readonly user: OciUser;
  readonly args: readonly string[];
  readonly env?: readonly string[];
  readonly cwd: string;
  readonly capabilities?: OciCapabilities;
  readonly rlimits?: readonly OciRlimit[];
  readonly noNewPrivileges?: boolean;
  readonly oomScoreAdj?: number;
}

export interface OciRoot {
  readonly path: string;
  readonly readonly?: boolean;
}

export interface OciMount {
  readonly destination: string;
  readonly type?: string;
  readonly source?: string;
  readonly options?: readonly string[];
}

export interface OciNamespace {
  readonly type: NamespaceType;
  readonly path?: string;
}

export interface OciMemory {
  readonly limit?: number;
  readonly reservation?: number;
  readonly swap?: number;
}

export interface OciCpu {
  readonly shares?: number;
  readonly quota?: number;
  readonly period?: number;
}

export interface OciPids {
  readonly limit: number;
}

export interface OciResources {
  readonly memory?: OciMemory;
  readonly cpu?: OciCpu;
  readonly pids?: OciPids;
}

export interface OciDevice {
  readonly type: 'c' | 'b' | 'u' | 'p';
  readonly path: string;
  readonly major?: number;
  readonly minor?: number;
  readonly fileMode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

export interface OciLinux {
  readonly namespaces?: readonly OciNamespace[];
  readonly resources?: OciResources;
  readonly devices?: readonly OciDevice[];
  readonly sysctl?: Readonly<Record<string, string>>;
  readonly maskedPaths?: readonly string[];
  readonly readonlyPaths?: readonly string[];
}

export interface OciSpec {
  readonly ociVersion: string;
  readonly process: OciProcess;
  readonly root?: OciRoot;
  readonly hostname?: string;
  readonly mounts?: readonly OciMount[];
  readonly linux?: OciLinux;
}

const U64_AS_NUMBER = 2 ** 64;
const I64_MAX_AS_NUMBER = 2 ** 63;

const checkUser = obj<OciUser>({
  uid: uint32,
  gid: uint32,
  umask: opt(int(0, 0o7777)),
  additionalGids: opt(arrayOf(uint32)),
});

const capList = opt(arrayOf(cstr));
const checkCapabilities = obj<OciCapabilities>({
  bounding: capList,
  effective: capList,
  inheritable: capList,
  permitted: capList,
  ambient: capList,
});

const checkRlimit = obj<OciRlimit>({ type: str, soft: int(0, U64_AS_NUMBER), hard: int(0, U64_AS_NUMBER) });

const checkEnvEntry: Check<string> = (value, path) => {
  const entry = cstr(value, path);
  if (entry.indexOf('=') <= 0) throw new SpecError(path, `expected KEY=value, got "${entry}"`);
  return entry;
};

export const checkProcess = obj<OciProcess>({
  terminal: opt(bool),
  consoleSize: opt(obj<OciConsoleSize>({ height: int(0, 0xffff), width: int(0, 0xffff) })),
  user: checkUser,
  args: arrayOf(cstr, 1),
  env: opt(arrayOf(checkEnvEntry)),
  cwd: absPath,
  capabilities: opt(checkCapabilities),
  rlimits: opt(arrayOf(checkRlimit)),
  noNewPrivileges: opt(bool),
  oomScoreAdj: opt(int(-1000, 1000)),
});

const checkMount = obj<OciMount>({
  destination: absPath,
  type: opt(cstr),
  source: opt(cstr),
  options: opt(arrayOf(cstr)),
});

const checkResources = obj<OciResources>({
  memory: opt(
    obj<OciMemory>({
      limit: opt(int(-1, I64_MAX_AS_NUMBER)),
      reservation: opt(int(-1, I64_MAX_AS_NUMBER)),
      swap: opt(int(-1, I64_MAX_AS_NUMBER)),
    }),
  ),
  cpu: opt(
    obj<OciCpu>({
      shares: opt(int(0, U64_AS_NUMBER)),
      quota: opt(int(-1, I64_MAX_AS_NUMBER)),
      period: opt(int(0, U64_AS_NUMBER)),
    }),
  ),
  pids: opt(obj<OciPids>({ limit: int(-1, I64_MAX_AS_NUMBER) })),
});

const checkDevice = obj<OciDevice>({
  type: oneOf(['c', 'b', 'u', 'p'] as const),
  path: absPath,
  major: opt(int(0, 0xfff)),
  minor: opt(int(0, 0xfffff)),
  fileMode: opt(int(0, 0o7777)),
  uid: opt(uint32),
  gid: opt(uint32),
});

const checkLinux = obj<OciLinux>({
  namespaces: opt(arrayOf(obj<OciNamespace>({ type: oneOf(NAMESPACE_TYPES), path: opt(absPath) }))),
  resources: opt(checkResources),
  devices: opt(arrayOf(checkDevice)),
  sysctl: opt(recordOf(cstr)),
  maskedPaths: opt(arrayOf(absPath)),
  readonlyPaths: opt(arrayOf(absPath)),
});

const checkSpec = obj<OciSpec>({
  ociVersion: str,
  process: checkProcess,
  root: opt(obj<OciRoot>({ path: str, readonly: opt(bool) })),
  hostname: opt(cstr),
  mounts: opt(arrayOf(checkMount)),
  linux: opt(checkLinux),
});

/** Validates a parsed config.json; throws SpecError naming the JSON path of the first problem. */
export function parseSpec(value: unknown): OciSpec {
  return checkSpec(value, '$');
}

/** Validates linux.resources of an update (containerd sends it as JSON LinuxResources). */
export function parseResources(value: unknown): OciResources {
  return checkResources(value, '$');
}

/** Validates the process of an exec (containerd sends it as a JSON runtime-spec Process). */
export function parseProcess(value: unknown): OciProcess {
  return checkProcess(value, '$');
}

/** Parses config.json text; a syntax error is a SpecError at `$`. */
export function parseSpecJson(text: string): OciSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SpecError('$', `not JSON: ${(err as Error).message}`);
  }
  return parseSpec(value);
}
