// Which SandboxRuntime implementation serves the sandbox: the VM-backed runtime (vm_runtime/), the
// product's. VFS_TEST_RUNTIME_MODULE is a test seam only: the
// e2e harness points it (through its private containerd's environment) at a separately bundled
// test double, so the frame can be exercised end to end with real containerd. The shim's bundle
// contains no test double, and nothing selects one unless that variable is set.

import { pathToFileURL } from 'node:url';
import type { SandboxRuntimeFactory } from './sandbox_runtime';
import { Code, ShimError } from './shim_error';
import { createVmSandboxRuntime } from './vm_runtime/vm_sandbox_runtime';

export const TEST_RUNTIME_MODULE_ENV = 'VFS_TEST_RUNTIME_MODULE';

interface RuntimeModule {
  readonly createSandboxRuntime?: unknown;
  /** import() of a CommonJS module puts module.exports here. */
  readonly default?: { readonly createSandboxRuntime?: unknown };
}

export async function loadRuntimeFactory(env: NodeJS.ProcessEnv = process.env): Promise<SandboxRuntimeFactory> {
  const modulePath = env[TEST_RUNTIME_MODULE_ENV];
  if (modulePath === undefined || modulePath === '') return createVmSandboxRuntime;
  let loaded: RuntimeModule;
  try {
    loaded = (await import(pathToFileURL(modulePath).href)) as RuntimeModule;
  } catch (err) {
    throw ShimError.wrap(err, `${TEST_RUNTIME_MODULE_ENV}=${modulePath}`, Code.Internal);
  }
  const factory = loaded.createSandboxRuntime ?? loaded.default?.createSandboxRuntime;
  if (typeof factory !== 'function') {
    throw new ShimError(Code.Internal, `${TEST_RUNTIME_MODULE_ENV}=${modulePath} exports no createSandboxRuntime function`);
  }
  return factory as SandboxRuntimeFactory;
}
