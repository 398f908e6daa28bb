// @vfs/shim: the shim frame's public surface — run the shim around a SandboxRuntime, the runtime
// contract itself, and the host-mount and error helpers a runtime needs. The VM layer is ./vm.
export { runShim } from './run_shim';
export * from './sandbox_runtime';
export { Code, ShimError } from './shim_error';
export { SandboxError, type SandboxErrorKind } from './sandbox_error';
export { mountFor, unmountContainer, type MountSpec } from './host_mounts';
export { USER_XATTRS_ONLY } from './vm_runtime/share_plan';
export { firstCheckAnswer } from './vm_runtime/agent_dial';
export type { ShimProcess, ShimSpec } from './oci_spec';
// Read by the tests' clean-up and checks: the processes a sandbox recorded.
export { type PidRecord, SandboxState } from './sandbox_state';
export { parseContainerdVersion } from './protocol';
