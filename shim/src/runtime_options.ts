// containerd's runtime options: a `runtimeoptions.v1.Options` packed in a google.protobuf.Any, on
// the shim's stdin at `start` and in CreateTaskRequest.options (ARCHITECTURE.md, 'containerd and
// the shim'). Newer containerd (2.x bootstrap protocol) writes JSON BootstrapParams on stdin
// instead, with the same Any among its `extensions` (Go's encoding/json: `type_url`, base64
// `value`).

import { Any } from '@vfs/proto/gen/google/protobuf/any';
import { Options } from '@vfs/proto/gen/containerd/runtimeoptions/v1/api';
import { Code, ShimError } from './shim_error';

export interface RuntimeOptions {
  readonly configPath: string;
  readonly configBody: string;
}

const OPTIONS_TYPE = 'runtimeoptions.v1.Options';

/** No runtime options: the configuration comes from VFS_CONFIG, /etc or the defaults. */
export const NO_RUNTIME_OPTIONS: RuntimeOptions = { configPath: '', configBody: '' };

/** Create's options when they name a configuration (a path or a body), else those `start` read. */
export function chosenOptions(start: RuntimeOptions, create: RuntimeOptions | undefined): RuntimeOptions {
  return create !== undefined && (create.configPath !== '' || create.configBody !== '') ? create : start;
}

/** The options inside an Any, or undefined when the Any carries another type (e.g. runc's). */
export function optionsFromAny(any: Any | undefined): RuntimeOptions | undefined {
  if (any === undefined || !any.typeUrl.endsWith(OPTIONS_TYPE)) return undefined;
  try {
    const options = Options.decode(any.value);
    return { configPath: options.configPath, configBody: Buffer.from(options.configBody).toString('utf8') };
  } catch (err) {
    throw ShimError.wrap(err, `cannot decode ${any.typeUrl}`, Code.InvalidArgument);
  }
}

interface JsonAny {
  readonly type_url?: unknown;
  readonly value?: unknown;
}

function fromBootstrapJson(text: string): RuntimeOptions | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw ShimError.wrap(err, 'stdin is neither a protobuf Any nor bootstrap JSON', Code.InvalidArgument);
  }
  const extensions = (parsed as { extensions?: unknown }).extensions;
  if (!Array.isArray(extensions)) return undefined;
  for (const extension of extensions as JsonAny[]) {
    if (typeof extension.type_url === 'string' && typeof extension.value === 'string') {
      const found = optionsFromAny({ typeUrl: extension.type_url, value: Buffer.from(extension.value, 'base64') });
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** What `start` read on stdin: empty (no options), a protobuf Any, or bootstrap JSON. */
export function optionsFromStdin(data: Buffer): RuntimeOptions | undefined {
  if (data.length === 0) return undefined;
  if (data[0] === 0x7b /* { */) return fromBootstrapJson(data.toString('utf8'));
  let any: Any;
  try {
    any = Any.decode(data);
  } catch (err) {
    throw ShimError.wrap(err, 'cannot decode the runtime options on stdin', Code.InvalidArgument);
  }
  return optionsFromAny(any);
}
