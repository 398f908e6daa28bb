// containerd-shim-vfs-v2: the product's entry point, one VM per sandbox.
import { runShim } from './run_shim';

runShim(async () => (await import('./vm_runtime/vm_sandbox_runtime.js')).createVmSandboxRuntime);
