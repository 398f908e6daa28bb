// Entry point of the test shim (build/test-bin/containerd-shim-vfs-v2): the product's shim frame
// around the host-process test double, for the frame's e2e tests.
import { runShim } from '@vfs/shim';

runShim(async () => (await import('./host_process_runtime.js')).createSandboxRuntime);
