// The part of an OCI runtime spec (the bundle's config.json, an exec's Process) the shim reads
// itself. Validation checks those fields and keeps the document's other fields as they are: the
// typed object is the whole document, which the runtime forwards (the guest agent gets all of it,
// and checks strictly the part it runs). The types are views of the OCI model in @vfs/contracts,
// whose checks judge a field wherever the shim asks the same; the messages name the field.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  accepts,
  arrayOf,
  isPlainObject,
  recordOf,
  str,
  UINT32_MAX,
  uint32,
  type OciProcess,
  type OciSpec,
  type OciUser,
} from '@vfs/contracts';
import { Code, ShimError } from './shim_error';

const ANNOTATION_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
const ANNOTATION_SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';

/** A Process as the shim checked it. The user is checked when given; nothing on the host reads it. */
export type ShimProcess = Pick<OciProcess, 'terminal' | 'args' | 'env' | 'cwd'> & {
  readonly user?: Pick<OciUser, 'uid' | 'gid' | 'additionalGids'>;
};

/** config.json as the shim checked it. */
export type ShimSpec = Pick<OciSpec, 'ociVersion' | 'root' | 'hostname' | 'mounts' | 'annotations'> & {
  readonly process?: ShimProcess;
  /** The namespaces only: a network entry's path is the pod's netns (pod_network.ts). */
  readonly linux?: { readonly namespaces?: readonly { readonly type: string; readonly path?: string }[] };
};

const strings = arrayOf(str);
const nonEmptyStrings = arrayOf(str, 1);
const ids = arrayOf(uint32);
const stringMap = recordOf(str);

type Fail = (problem: string) => never;

/** Throws InvalidArgument naming the field: a bad spec must fail Create before anything is made. */
function failIn(where: string): Fail {
  return (problem) => {
    throw new ShimError(Code.InvalidArgument, `${where}: ${problem}`);
  };
}

function checkUser(value: unknown, fail: Fail): void {
  if (!isPlainObject(value)) fail('process.user must be an object');
  if (!accepts(uint32, value.uid)) fail(`process.user.uid must be an integer from 0 to ${UINT32_MAX}`);
  if (!accepts(uint32, value.gid)) fail(`process.user.gid must be an integer from 0 to ${UINT32_MAX}`);
  const extra = value.additionalGids;
  if (extra !== undefined && !accepts(ids, extra))
    fail(`process.user.additionalGids must be an array of integers from 0 to ${UINT32_MAX}`);
}

function checkProcess(value: unknown, fail: Fail): asserts value is ShimProcess {
  if (!isPlainObject(value)) fail('process must be an object');
  if (!accepts(nonEmptyStrings, value.args)) fail('process.args must be a non-empty array of strings');
  if (typeof value.cwd !== 'string' || !value.cwd.startsWith('/')) fail('process.cwd must be an absolute path');
  if (value.env !== undefined && !accepts(strings, value.env)) fail('process.env must be an array of strings');
  if (value.terminal !== undefined && typeof value.terminal !== 'boolean') fail('process.terminal must be a boolean');
  if (value.user !== undefined) checkUser(value.user, fail);
}

function checkMount(value: unknown, at: string, fail: Fail): void {
  if (!isPlainObject(value)) fail(`${at} must be an object`);
  if (typeof value.destination !== 'string' || value.destination === '')
    fail(`${at}.destination must be a non-empty string`);
  if (value.type !== undefined && typeof value.type !== 'string') fail(`${at}.type must be a string`);
  if (value.source !== undefined && typeof value.source !== 'string') fail(`${at}.source must be a string`);
  if (value.options !== undefined && !accepts(strings, value.options))
    fail(`${at}.options must be an array of strings`);
}

function checkMounts(value: unknown, fail: Fail): void {
  if (!Array.isArray(value)) fail('mounts must be an array');
  for (const [i, mount] of value.entries()) checkMount(mount, `mounts[${i}]`, fail);
}

function checkRoot(value: unknown, fail: Fail): void {
  if (!isPlainObject(value)) fail('root must be an object');
  if (typeof value.path !== 'string' || value.path === '') fail('root.path must be a non-empty string');
  if (value.readonly !== undefined && typeof value.readonly !== 'boolean') fail('root.readonly must be a boolean');
}

function checkNamespaces(value: unknown, fail: Fail): void {
  if (!isPlainObject(value)) fail('linux must be an object');
  if (value.namespaces === undefined) return;
  if (!Array.isArray(value.namespaces)) fail('linux.namespaces must be an array');
  for (const [i, ns] of value.namespaces.entries()) {
    if (!isPlainObject(ns) || typeof ns.type !== 'string') fail(`linux.namespaces[${i}].type must be a string`);
    if (ns.path !== undefined && typeof ns.path !== 'string') fail(`linux.namespaces[${i}].path must be a string`);
  }
}

function checkAnnotations(value: unknown, fail: Fail): void {
  if (!accepts(stringMap, value)) fail('annotations must map strings to strings');
}

function checkSpec(value: unknown, fail: Fail): asserts value is ShimSpec {
  if (!isPlainObject(value)) fail('the spec must be a JSON object');
  if (typeof value.ociVersion !== 'string') fail('ociVersion must be a string');
  if (value.process !== undefined) checkProcess(value.process, fail);
  if (value.root !== undefined) checkRoot(value.root, fail);
  if (value.hostname !== undefined && typeof value.hostname !== 'string') fail('hostname must be a string');
  if (value.mounts !== undefined) checkMounts(value.mounts, fail);
  if (value.annotations !== undefined) checkAnnotations(value.annotations, fail);
  if (value.linux !== undefined) checkNamespaces(value.linux, fail);
}

export function validateProcess(value: unknown, where: string): ShimProcess {
  checkProcess(value, failIn(where));
  return value;
}

/** The bundle's config.json, validated. */
export function readBundleSpec(bundle: string): ShimSpec {
  const path = join(bundle, 'config.json');
  let json: string;
  try {
    json = readFileSync(path, 'utf8');
  } catch (err) {
    throw ShimError.wrap(err, `cannot read the OCI spec ${path}`, Code.InvalidArgument);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw ShimError.wrap(err, `the OCI spec ${path} is not valid JSON`, Code.InvalidArgument);
  }
  checkSpec(parsed, failIn(path));
  return parsed;
}

/**
 * The sandbox a container belongs to: CRI marks pod containers with the sandbox's id
 * (ARCHITECTURE.md, 'containerd and the shim'); a sandbox container or a lone container (ctr run)
 * is its own sandbox.
 */
export function sandboxIdOf(spec: ShimSpec, containerId: string): string {
  const annotations = spec.annotations ?? {};
  const sandboxId = annotations[ANNOTATION_SANDBOX_ID];
  if (annotations[ANNOTATION_CONTAINER_TYPE] === 'container' && sandboxId !== undefined && sandboxId !== '')
    return sandboxId;
  return containerId;
}
