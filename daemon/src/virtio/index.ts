// Public surface of the virtio layer: split-ring layout and guest memory regions, shared with the front-end driver.
export * from './guest_memory';
export * from './ring_layout';
