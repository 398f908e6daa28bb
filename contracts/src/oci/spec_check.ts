/**
 * Strict checks of the OCI model's parts, as a container is started from them: no NUL bytes
 * (they cannot cross into syscalls), env entries KEY=value, absolute paths, ids and limits in
 * range. Listed fields are checked, others dropped; a failure is a SpecError naming the JSON path.
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
import {
  NAMESPACE_TYPES,
  type OciCapabilities,
  type OciConsoleSize,
  type OciCpu,
  type OciDevice,
  type OciDeviceRule,
  type OciLinux,
  type OciMemory,
  type OciMount,
  type OciNamespace,
  type OciPids,
  type OciProcess,
  type OciResources,
  type OciRlimit,
  type OciRoot,
  type OciUser,
} from './spec';

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

export const checkRoot = obj<OciRoot>({ path: str, readonly: opt(bool) });

export const checkMount = obj<OciMount>({
  destination: absPath,
  type: opt(cstr),
  source: opt(cstr),
  options: opt(arrayOf(cstr)),
});

const checkAccess: Check<string> = (value, path) => {
  const access = str(value, path);
  if (!/^[rwm]*$/.test(access)) throw new SpecError(path, `expected some of "rwm", got "${access}"`);
  return access;
};

// A major or minor of -1 is "any", as runc reads it too.
const checkDeviceRule = obj<OciDeviceRule>({
  allow: bool,
  type: opt(oneOf(['a', 'c', 'b'] as const)),
  major: opt(int(-1, 0xfff)),
  minor: opt(int(-1, 0xfffff)),
  access: opt(checkAccess),
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
  devices: opt(arrayOf(checkDeviceRule)),
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

export const checkLinux = obj<OciLinux>({
  namespaces: opt(arrayOf(obj<OciNamespace>({ type: oneOf(NAMESPACE_TYPES), path: opt(absPath) }))),
  resources: opt(checkResources),
  devices: opt(arrayOf(checkDevice)),
  sysctl: opt(recordOf(cstr)),
  maskedPaths: opt(arrayOf(absPath)),
  readonlyPaths: opt(arrayOf(absPath)),
});

/** Validates linux.resources of an update (containerd sends it as JSON LinuxResources). */
export function parseResources(value: unknown): OciResources {
  return checkResources(value, '$');
}

/** Validates the process of an exec (containerd sends it as a JSON runtime-spec Process). */
export function parseProcess(value: unknown): OciProcess {
  return checkProcess(value, '$');
}
