/**
 * A service implementation whose handlers load on first use: Check must answer as soon as the
 * port is open, while the container core (and what it pulls in) loads with the first call
 * that needs it. Eager handlers answer without loading anything.
 */
import type { ServiceDefinition, ServiceImplementation } from '@vfs/proto/ttrpc';

type ErasedHandler = (...args: unknown[]) => Promise<unknown>;

export function lazyImplementation<D extends ServiceDefinition, E extends keyof ServiceImplementation<D>>(
  definition: D,
  eager: Pick<ServiceImplementation<D>, E>,
  load: () => Promise<Omit<ServiceImplementation<D>, E>>,
): ServiceImplementation<D> {
  let loaded: Promise<Omit<ServiceImplementation<D>, E>> | undefined;
  const handlers: Record<string, ErasedHandler> = {};
  const eagerHandlers = eager as Record<string, ErasedHandler | undefined>;
  for (const key of Object.keys(definition.methods)) {
    handlers[key] =
      eagerHandlers[key] ??
      (async (...args: unknown[]) => {
        loaded ??= load();
        const full = (await loaded) as unknown as Record<string, ErasedHandler>;
        return (full[key] as ErasedHandler)(...args);
      });
  }
  return handlers as unknown as ServiceImplementation<D>;
}
