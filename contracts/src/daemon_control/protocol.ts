// The multi-export control protocol: JSON lines over a unix stream socket. The shim sends one
// request per line and reads one response per line, matched by `id`. Shared by the daemon's
// server and the shim's client, so both validate the same shapes.
import { isCacheMode, type CacheMode } from '../cache_mode';
import { daxMinFileProblem, daxWindowProblem, DEFAULT_DAX_WINDOW_MIB } from '../dax_window';
import { errorMessage } from '../errors';

export interface AddExport {
  id: number;
  op: 'add';
  /** Names the share in logs and in later `remove` requests. */
  tag: string;
  /** vhost-user socket the daemon listens on for this share. */
  socket: string;
  /** Directory of the share, relative to the daemon's --shared-dir. */
  dir: string;
  readonly: boolean;
  cache: CacheMode;
  xattr: boolean;
  xattrmap?: string;
  announceSubmounts: boolean;
  /**
   * DAX: the guest maps files into a shared-memory window instead of copying them (the VMM must
   * support it). Read-only and read-write shares alike, as virtiofsd. Default false.
   */
  dax?: boolean;
  /** The DAX window in MiB, a power of two of at least 2 (dax_window.ts); only with dax, default 256. */
  daxWindowMiB?: number;
  /**
   * Per-inode DAX (dax_window.ts daxMinFileProblem): only regular files of at least this many KiB
   * get FUSE_ATTR_DAX, for a guest mounted `dax=inode`. Only with dax; absent or 0 = every file.
   */
  daxMinFileKiB?: number;
}

export interface RemoveExport {
  id: number;
  op: 'remove';
  tag: string;
}

export interface ListExports {
  id: number;
  op: 'list';
}

export type ControlRequest = AddExport | RemoveExport | ListExports;

export interface ExportInfo {
  tag: string;
  socket: string;
  dir: string;
  readonly: boolean;
  cache: CacheMode;
  /** Present when DAX is on. */
  daxWindowMiB?: number;
  /** Present when per-inode DAX is on. */
  daxMinFileKiB?: number;
}

export type ControlResponse =
  | { id: number; ok: true; exports?: ExportInfo[] }
  | { id: number; ok: false; error: string };

export class ControlProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlProtocolError';
  }
}

type Json = Record<string, unknown>;

function field<T>(obj: Json, key: string, type: 'string' | 'number' | 'boolean', fallback?: T): T {
  const v = obj[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== type) throw new ControlProtocolError(`field '${key}': expected ${type}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** `dax`, and with it the window size in MiB (defaulted, validated) and the per-inode threshold. */
function parseDax(obj: Json): { dax: boolean; daxWindowMiB?: number; daxMinFileKiB?: number } {
  const dax = field<boolean>(obj, 'dax', 'boolean', false);
  const minFile = parseDaxMinFile(obj, dax);
  if (obj.daxWindowMiB === undefined) return dax ? { dax, daxWindowMiB: DEFAULT_DAX_WINDOW_MIB, ...minFile } : { dax };
  const mib = field<number>(obj, 'daxWindowMiB', 'number');
  if (!dax) throw new ControlProtocolError("field 'daxWindowMiB': only with 'dax': true");
  const problem = daxWindowProblem(mib);
  if (problem !== null) throw new ControlProtocolError(`field 'daxWindowMiB': ${problem}`);
  return { dax, daxWindowMiB: mib, ...minFile };
}

/** `daxMinFileKiB`, present in the result only when it selects per-inode DAX (> 0). */
function parseDaxMinFile(obj: Json, dax: boolean): { daxMinFileKiB?: number } {
  if (obj.daxMinFileKiB === undefined) return {};
  const kib = field<number>(obj, 'daxMinFileKiB', 'number');
  if (!dax) throw new ControlProtocolError("field 'daxMinFileKiB': only with 'dax': true");
  const problem = daxMinFileProblem(kib);
  if (problem !== null) throw new ControlProtocolError(`field 'daxMinFileKiB': ${problem}`);
  return kib > 0 ? { daxMinFileKiB: kib } : {};
}

function parseAdd(obj: Json, id: number): AddExport {
  const cache = field<string>(obj, 'cache', 'string', 'auto');
  if (!isCacheMode(cache)) throw new ControlProtocolError(`field 'cache': invalid value '${cache}'`);
  // Only the shape is checked here: the daemon parses the map itself when it adds the export.
  const xattrmap = obj.xattrmap === undefined ? undefined : field<string>(obj, 'xattrmap', 'string');
  return {
    id,
    op: 'add',
    tag: field<string>(obj, 'tag', 'string'),
    socket: field<string>(obj, 'socket', 'string'),
    dir: field<string>(obj, 'dir', 'string'),
    readonly: field<boolean>(obj, 'readonly', 'boolean', false),
    cache,
    xattr: field<boolean>(obj, 'xattr', 'boolean', xattrmap !== undefined),
    xattrmap,
    announceSubmounts: field<boolean>(obj, 'announceSubmounts', 'boolean', false),
    ...parseDax(obj),
  };
}

/** Parses one request line; throws ControlProtocolError naming what is wrong. */
export function parseRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new ControlProtocolError(`not JSON: ${errorMessage(e)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ControlProtocolError('request must be a JSON object');
  }
  const obj = value as Json;
  const id = field<number>(obj, 'id', 'number');
  const op = field<string>(obj, 'op', 'string');
  switch (op) {
    case 'add':
      return parseAdd(obj, id);
    case 'remove':
      return { id, op, tag: field<string>(obj, 'tag', 'string') };
    case 'list':
      return { id, op };
    default:
      throw new ControlProtocolError(`unknown op '${op}'`);
  }
}
