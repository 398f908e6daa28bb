// @vfs/shim/vm: the VM layer — QEMU's command line, process and exit, its QMP client, pidfd
// watches of processes handed over rather than spawned, the console log, accelerator detection,
// the host TSC — and the guest boot timings, for benchmarks and tests that boot the same VM the
// product boots.
export * from './accel';
export * from './console_log';
export * from './host_tsc';
export * from './pidfd_watch';
export * from './qemu_command';
export * from './qemu_exit';
export * from './qemu_process';
export { QmpClient } from './qmp';
export * from '../vm_runtime/guest_boot_times';
export * from '../vm_runtime/phase_clock';
export * from '../vm_runtime/vm_launch';
