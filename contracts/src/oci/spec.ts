/**
 * The OCI runtime spec (config.json, runtime-spec 1.x) as vfs reads it: the subset of fields some
 * part of vfs consumes, optional where the runtime-spec makes them optional. The shim checks the
 * fields it needs on the host and forwards the whole document; the guest agent checks the part it
 * runs a container from (./spec_check). Each side types what it checked as a view of these.
 */

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

/** A device cgroup rule: type a (all), c or b; major/minor absent for any; access of "rwm". */
export interface OciDeviceRule {
  readonly allow: boolean;
  readonly type?: 'a' | 'c' | 'b';
  readonly major?: number;
  readonly minor?: number;
  readonly access?: string;
}

export interface OciResources {
  readonly memory?: OciMemory;
  readonly cpu?: OciCpu;
  readonly pids?: OciPids;
  readonly devices?: readonly OciDeviceRule[];
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
  /** Optional in the runtime-spec; the agent requires it (a container runs a process). */
  readonly process?: OciProcess;
  readonly root?: OciRoot;
  readonly hostname?: string;
  readonly mounts?: readonly OciMount[];
  /** CRI marks pod containers here (the shim reads them); the guest ignores them. */
  readonly annotations?: Readonly<Record<string, string>>;
  readonly linux?: OciLinux;
}
