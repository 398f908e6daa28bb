// Public surface of the daemon's syscall layer (koffi bindings), shared with the vhost-user front-end driver.
export * from './eventfd';
export * from './fd';
export * from './libc';
export * from './mman';
export * from './poll';
export * from './socket';
