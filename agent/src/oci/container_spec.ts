/**
 * The spec a container is created from: the part of the OCI model (@vfs/contracts) the guest agent
 * consumes, with the process it starts. Fields not listed here are dropped; fields listed are
 * checked strictly, so a malformed spec fails before anything is mounted, with the JSON path of
 * the problem.
 */
import {
  arrayOf,
  checkLinux,
  checkMount,
  checkProcess,
  checkRoot,
  cstr,
  errorMessage,
  obj,
  opt,
  SpecError,
  str,
  type OciProcess,
  type OciSpec,
} from '@vfs/contracts';

export type ContainerSpec = Pick<OciSpec, 'ociVersion' | 'root' | 'hostname' | 'mounts' | 'linux'> & {
  readonly process: OciProcess;
};

const checkSpec = obj<ContainerSpec>({
  ociVersion: str,
  process: checkProcess,
  root: opt(checkRoot),
  hostname: opt(cstr),
  mounts: opt(arrayOf(checkMount)),
  linux: opt(checkLinux),
});

/** Validates a parsed config.json; throws SpecError naming the JSON path of the first problem. */
export function parseSpec(value: unknown): ContainerSpec {
  return checkSpec(value, '$');
}

/** Parses config.json text; a syntax error is a SpecError at `$`. */
export function parseSpecJson(text: string): ContainerSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SpecError('$', `not JSON: ${errorMessage(err)}`);
  }
  return parseSpec(value);
}
