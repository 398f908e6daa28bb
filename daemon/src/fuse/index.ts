// Public surface of the FUSE ABI (structs, opcodes, errno values), shared with the test FUSE client.
export * from './abi';
export * from './errno';
