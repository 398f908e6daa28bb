// The part of an OCI runtime spec (the bundle's config.json, an exec's Process) the shim reads
// itself. Validation checks those fields and keeps the document's other fields as they are: the
// typed object is the whole document, which the runtime forwards (the guest agent gets all of it).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code, ShimError } from './shim_error';

const ANNOTATION_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
const ANNOTATION_SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';
const MAX_ID = 0xffffffff;

export interface OciUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids?: readonly number[];
}

export interface OciProcess {
  readonly terminal?: boolean;
  readonly args: readonly string[];
  readonly env?: readonly string[];
  readonly cwd: string;
  readonly user?: OciUser;
}

export interface OciMount {
  readonly destination: string;
  readonly type?: string;
  readonly source?: string;
  readonly options?: readonly string[];
}

export interface OciSpec {
  readonly ociVersion: string;
  readonly process?: OciProcess;
  readonly root?: { readonly path: string; readonly readonly?: boolean };
  readonly hostname?: string;
  readonly mounts?: readonly OciMount[];
  readonly annotations?: Readonly<Record<string, string>>;
}

type Fail = (problem: string) => never;

/** Throws InvalidArgument naming the field: a bad spec must fail Create before anything is made. */
function failIn(where: string): Fail {
  return (problem) => {
    throw new ShimError(Code.InvalidArgument, `${where}: ${problem}`);
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_ID;
}

function checkUser(value: unknown, fail: Fail): void {
  if (!isRecord(value)) return fail('process.user must be an object');
  if (!isId(value.uid)) fail(`process.user.uid must be an integer from 0 to ${MAX_ID}`);
  if (!isId(value.gid)) fail(`process.user.gid must be an integer from 0 to ${MAX_ID}`);
  const extra = value.additionalGids;
  if (extra !== undefined && !(Array.isArray(extra) && extra.every(isId))) fail(`process.user.additionalGids must be an array of integers from 0 to ${MAX_ID}`);
}

function checkProcess(value: unknown, fail: Fail): asserts value is OciProcess {
  if (!isRecord(value)) return fail('process must be an object');
  if (!isStringArray(value.args) || value.args.length === 0) fail('process.args must be a non-empty array of strings');
  if (typeof value.cwd !== 'string' || !value.cwd.startsWith('/')) fail('process.cwd must be an absolute path');
  if (value.env !== undefined && !isStringArray(value.env)) fail('process.env must be an array of strings');
  if (value.terminal !== undefined && typeof value.terminal !== 'boolean') fail('process.terminal must be a boolean');
  if (value.user !== undefined) checkUser(value.user, fail);
}

function checkMount(value: unknown, at: string, fail: Fail): void {
  if (!isRecord(value)) return fail(`${at} must be an object`);
  if (typeof value.destination !== 'string' || value.destination === '') fail(`${at}.destination must be a non-empty string`);
  if (value.type !== undefined && typeof value.type !== 'string') fail(`${at}.type must be a string`);
  if (value.source !== undefined && typeof value.source !== 'string') fail(`${at}.source must be a string`);
  if (value.options !== undefined && !isStringArray(value.options)) fail(`${at}.options must be an array of strings`);
}

function checkMounts(value: unknown, fail: Fail): void {
  if (!Array.isArray(value)) return fail('mounts must be an array');
  value.forEach((mount, i) => checkMount(mount, `mounts[${i}]`, fail));
}

function checkRoot(value: unknown, fail: Fail): void {
  if (!isRecord(value)) return fail('root must be an object');
  if (typeof value.path !== 'string' || value.path === '') fail('root.path must be a non-empty string');
  if (value.readonly !== undefined && typeof value.readonly !== 'boolean') fail('root.readonly must be a boolean');
}

function checkAnnotations(value: unknown, fail: Fail): void {
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === 'string')) fail('annotations must map strings to strings');
}

function checkSpec(value: unknown, fail: Fail): asserts value is OciSpec {
  if (!isRecord(value)) return fail('the spec must be a JSON object');
  if (typeof value.ociVersion !== 'string') fail('ociVersion must be a string');
  if (value.process !== undefined) checkProcess(value.process, fail);
  if (value.root !== undefined) checkRoot(value.root, fail);
  if (value.hostname !== undefined && typeof value.hostname !== 'string') fail('hostname must be a string');
  if (value.mounts !== undefined) checkMounts(value.mounts, fail);
  if (value.annotations !== undefined) checkAnnotations(value.annotations, fail);
}

export function validateProcess(value: unknown, where: string): OciProcess {
  checkProcess(value, failIn(where));
  return value;
}

/** The bundle's config.json, validated. */
export function readBundleSpec(bundle: string): OciSpec {
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
 * The sandbox a container belongs to: CRI marks pod containers with the sandbox's id (DESIGN §2);
 * a sandbox container or a lone container (ctr run) is its own sandbox.
 */
export function sandboxIdOf(spec: OciSpec, containerId: string): string {
  const annotations = spec.annotations ?? {};
  const sandboxId = annotations[ANNOTATION_SANDBOX_ID];
  if (annotations[ANNOTATION_CONTAINER_TYPE] === 'container' && sandboxId !== undefined && sandboxId !== '') return sandboxId;
  return containerId;
}
