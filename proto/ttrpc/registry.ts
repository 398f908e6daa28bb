// The services a server offers, by full name, with their handlers in an untyped form: the typed
// form (ServiceImplementation) is checked once, at registration.

import { Code } from './codes';
import { TtrpcError } from './errors';
import type { AnyMethodDefinition, ServiceDefinition, ServiceImplementation } from './service';

/** A handler with its message types erased; its arity follows the method's stream kind. */
export type ErasedHandler = (...args: never[]) => Promise<unknown>;

export interface RegisteredMethod {
  readonly service: string;
  readonly definition: AnyMethodDefinition;
  readonly handler: ErasedHandler;
}

export class ServiceRegistry {
  private readonly services = new Map<string, Map<string, RegisteredMethod>>();

  register<D extends ServiceDefinition>(definition: D, implementation: ServiceImplementation<D>): void {
    if (this.services.has(definition.fullName)) {
      throw new Error(`ttrpc: service ${definition.fullName} is already registered`);
    }
    const methods = new Map<string, RegisteredMethod>();
    for (const [key, method] of Object.entries(definition.methods)) {
      const handler: unknown = implementation[key as keyof D['methods']];
      if (typeof handler !== 'function') {
        throw new Error(`ttrpc: no handler for ${definition.fullName}/${method.name} (key "${key}")`);
      }
      methods.set(method.name, {
        service: definition.fullName,
        definition: method,
        handler: handler.bind(implementation) as ErasedHandler,
      });
    }
    this.services.set(definition.fullName, methods);
  }

  /** Throws Unimplemented naming what is missing. */
  lookup(service: string, method: string): RegisteredMethod {
    const methods = this.services.get(service);
    if (methods === undefined) {
      throw new TtrpcError(Code.Unimplemented, `ttrpc: unknown service ${service}`);
    }
    const found = methods.get(method);
    if (found === undefined) {
      throw new TtrpcError(Code.Unimplemented, `ttrpc: unknown method ${method} of service ${service}`);
    }
    return found;
  }
}
