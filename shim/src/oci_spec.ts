// The part of an OCI runtime spec (the bundle's config.json, an exec's Process) the shim reads
// itself. The rest travels as JSON to the runtime (the guest agent gets the whole document).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code, ShimError } from './shim_error';

export const ANNOTATION_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
export const ANNOTATION_SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';

export interface OciProcess {
  readonly terminal?: boolean;
  readonly args: readonly string[];
  readonly env?: readonly string[];
  readonly cwd: string;
  readonly user?: { readonly uid: number; readonly gid: number };
}

export interface OciSpec {
  readonly ociVersion: string;
  readonly process?: OciProcess;
  readonly root?: { readonly path: string; readonly readonly?: boolean };
  readonly hostname?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Throws InvalidArgument naming the field: a bad spec must fail Create before anything is made. */
export function validateProcess(value: unknown, where: string): OciProcess {
  const fail = (problem: string): never => {
    throw new ShimError(Code.InvalidArgument, `${where}: ${problem}`);
  };
  if (!isRecord(value)) return fail('process must be an object');
  if (!isStringArray(value.args) || value.args.length === 0) fail('process.args must be a non-empty array of strings');
  if (typeof value.cwd !== 'string' || !value.cwd.startsWith('/')) fail('process.cwd must be an absolute path');
  if (value.env !== undefined && !isStringArray(value.env)) fail('process.env must be an array of strings');
  if (value.terminal !== undefined && typeof value.terminal !== 'boolean') fail('process.terminal must be a boolean');
  return value as unknown as OciProcess;
}

export function validateSpec(value: unknown, where: string): OciSpec {
  const fail = (problem: string): never => {
    throw new ShimError(Code.InvalidArgument, `${where}: ${problem}`);
  };
  if (!isRecord(value)) return fail('the spec must be a JSON object');
  if (typeof value.ociVersion !== 'string') fail('ociVersion must be a string');
  if (value.process !== undefined) validateProcess(value.process, where);
  if (value.annotations !== undefined && (!isRecord(value.annotations) || !Object.values(value.annotations).every((v) => typeof v === 'string'))) {
    fail('annotations must map strings to strings');
  }
  return value as unknown as OciSpec;
}

export interface BundleSpec {
  readonly spec: OciSpec;
  /** The file's text, as the runtime forwards it. */
  readonly json: string;
}

export function readBundleSpec(bundle: string): BundleSpec {
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
  return { spec: validateSpec(parsed, path), json };
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
