// The shim's management protocol (vfs-runtime ↔ the sandbox's shim): JSON lines over the
// sandbox's management socket (run_dir.ts), root only. Volumes are added to and removed from
// running containers here; both sides validate with the same parser.

import { errorMessage } from '../errors';

export interface VolumeAdd {
  readonly id: number;
  readonly op: 'volume-add';
  readonly containerId: string;
  /** Absolute host path of the directory to share. */
  readonly source: string;
  /** Absolute path inside the container. */
  readonly target: string;
  readonly readonly: boolean;
}

export interface VolumeRemove {
  readonly id: number;
  readonly op: 'volume-remove';
  readonly containerId: string;
  readonly target: string;
}

export interface VolumeList {
  readonly id: number;
  readonly op: 'volume-list';
  /** Empty: every container of the sandbox. */
  readonly containerId: string;
}

export type ManagementRequest = VolumeAdd | VolumeRemove | VolumeList;

export interface VolumeInfo {
  readonly containerId: string;
  readonly source: string;
  readonly target: string;
  readonly readonly: boolean;
  /** The virtio-fs tag of the hot-plugged device. */
  readonly tag: string;
}

export type ManagementAnswer =
  | { readonly id: number; readonly ok: true; readonly volumes?: readonly VolumeInfo[] }
  | { readonly id: number; readonly ok: false; readonly error: string };

export class ManagementProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManagementProtocolError';
  }
}

type Json = Record<string, unknown>;

function field<T>(obj: Json, key: string, type: 'string' | 'boolean' | 'number', fallback?: T): T {
  const v = obj[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== type)
    throw new ManagementProtocolError(`field '${key}': expected ${type}, got ${JSON.stringify(v)}`);
  return v as T;
}

function absolutePath(obj: Json, key: string): string {
  const path = field<string>(obj, key, 'string');
  if (!path.startsWith('/') || path.includes('\0'))
    throw new ManagementProtocolError(`field '${key}': "${path}" is not an absolute path`);
  return path;
}

function containerId(obj: Json, required: boolean): string {
  const id = field<string>(obj, 'containerId', 'string', required ? undefined : '');
  if (required && id === '') throw new ManagementProtocolError("field 'containerId': empty");
  return id;
}

/** Parses one request line; throws ManagementProtocolError naming what is wrong. */
export function parseManagementRequest(line: string): ManagementRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new ManagementProtocolError(`not JSON: ${errorMessage(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ManagementProtocolError('request must be a JSON object');
  }
  const obj = value as Json;
  const id = field<number>(obj, 'id', 'number');
  const op = field<string>(obj, 'op', 'string');
  switch (op) {
    case 'volume-add':
      return {
        id,
        op,
        containerId: containerId(obj, true),
        source: absolutePath(obj, 'source'),
        target: absolutePath(obj, 'target'),
        readonly: field<boolean>(obj, 'readonly', 'boolean', false),
      };
    case 'volume-remove':
      return { id, op, containerId: containerId(obj, true), target: absolutePath(obj, 'target') };
    case 'volume-list':
      return { id, op, containerId: containerId(obj, false) };
    default:
      throw new ManagementProtocolError(`unknown op '${op}'`);
  }
}
