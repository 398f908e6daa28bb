// Removed guest RAM stays mapped exactly while a chain in flight may hold a view of it.
import { readFileSync } from 'node:fs';
import { close, dup } from '../sys/fd';
import { ftruncate, memfdCreate } from '../sys/mman';
import { GuestMemory } from './guest_memory';

const MIB = 1 << 20;

function memfd(name: string): number {
  const fd = memfdCreate(name);
  ftruncate(fd, 2 * MIB);
  return fd;
}

/** This process's mappings of the memfd named `name`. */
function mappings(name: string): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(`/memfd:${name} `)).length;
}

describe('guest memory removed while chains are pinned', () => {
  const fds: number[] = [];
  let memory: GuestMemory;
  const region = (
    name: string,
    guestAddr: number,
  ): { spec: { guestAddr: number; size: number; userAddr: number; mmapOffset: number }; fd: number } => {
    const fd = memfd(name);
    fds.push(fd);
    return { spec: { guestAddr, size: 2 * MIB, userAddr: 0x7000_0000_0000 + guestAddr, mmapOffset: 0 }, fd };
  };
  const add = (
    name: string,
    guestAddr: number,
  ): { guestAddr: number; size: number; userAddr: number; mmapOffset: number } => {
    const r = region(name, guestAddr);
    memory.addRegion(r.spec, dup(r.fd));
    return r.spec;
  };

  beforeEach(() => {
    memory = new GuestMemory(8);
  });
  afterEach(() => {
    memory.clear();
    memory.unpinAll();
    for (const fd of fds.splice(0)) close(fd);
  });

  test('a region added and removed after a chain was pinned is unmapped at once; one it could see waits for it', () => {
    add('vfs-gm-ram', 0);
    const parked = memory.pin();
    // Added and removed while the chain waits (QEMU 11.1 announces each DAX mapping so).
    for (let i = 0; i < 3; i++) {
      const spec = add('vfs-gm-dax', 16 * MIB);
      expect(mappings('vfs-gm-dax')).toBe(1);
      memory.removeRegion(spec);
      expect(mappings('vfs-gm-dax')).toBe(0);
    }
    // The region the chain may view stays until the chain is let go.
    memory.clear();
    expect(mappings('vfs-gm-ram')).toBe(1);
    const later = memory.pin();
    memory.unpin(later);
    expect(mappings('vfs-gm-ram')).toBe(1);
    memory.unpin(parked);
    expect(mappings('vfs-gm-ram')).toBe(0);
  });

  test('a chain pinned while a region existed keeps it mapped after its removal, whatever came after', () => {
    const spec = add('vfs-gm-a', 0);
    const first = memory.pin();
    add('vfs-gm-b', 16 * MIB);
    const second = memory.pin();
    memory.removeRegion(spec);
    memory.unpin(second);
    expect(mappings('vfs-gm-a')).toBe(1);
    memory.unpin(first);
    expect(mappings('vfs-gm-a')).toBe(0);
  });
});
