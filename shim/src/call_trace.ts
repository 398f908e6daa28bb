// Logs every Task API call at debug level (method, exec id; the task id as `container`) and every failure at warn,
// so containerd's log shows the shim's side of each call in order.

import { errorMessage } from '@vfs/contracts';
import type { ServiceDefinition, ServiceImplementation } from '@vfs/proto/ttrpc';
import { containerLogger, type ShimLogger } from './logger';

type Erased = (request: { id?: unknown; execId?: unknown }, ...rest: unknown[]) => Promise<unknown>;

/** `log` is the root logger. */
export function traced<D extends ServiceDefinition>(
  definition: D,
  implementation: ServiceImplementation<D>,
  log: ShimLogger,
): ServiceImplementation<D> {
  const wrapped: Record<string, Erased> = {};
  for (const [key, method] of Object.entries(definition.methods)) {
    const handler = (implementation[key as keyof D['methods']] as unknown as Erased).bind(implementation);
    wrapped[key] = async (request, ...rest) => {
      const callLog = containerLogger(log, String(request.id ?? ''));
      const fields = { method: method.name, execId: request.execId };
      callLog.debug(fields, 'task api call');
      try {
        return await handler(request, ...rest);
      } catch (err) {
        callLog.warn({ ...fields, err: errorMessage(err) }, 'task api call failed');
        throw err;
      }
    };
  }
  return wrapped as unknown as ServiceImplementation<D>;
}
