/**
 * A service implementation whose handlers load on first use: Check must answer as soon as the
 * port is open, while the container core (and what it pulls in) loads with the first call
 * that needs it, or when preload() asks (once the port is open, so that a VM waiting in the warm
 * pool has it loaded before its first container). Eager handlers answer without loading anything.
 */
import type { ServiceDefinition, ServiceImplementation } from '@vfs/proto/ttrpc';

type ErasedHandler = (...args: unknown[]) => Promise<unknown>;

export interface LazyService<D extends ServiceDefinition> {
  readonly implementation: ServiceImplementation<D>;
  /** Starts loading now; a failure is the first call's to report. */
  preload(): void;
}

export function lazyImplementation<D extends ServiceDefinition, E extends keyof ServiceImplementation<D>>(
  definition: D,
  eager: Pick<ServiceImplementation<D>, E>,
  load: () => Promise<Omit<ServiceImplementation<D>, E>>,
): LazyService<D> {
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
  return {
    implementation: handlers as unknown as ServiceImplementation<D>,
    preload: () => {
      loaded ??= load();
      // Handled here so an early failure is not an unhandled rejection; the first call awaits it again.
      loaded.catch(() => undefined);
    },
  };
}
