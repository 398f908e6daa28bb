import { close } from '../sys/fd';
import { ftruncate, memfdCreate, memoryView, mmap, munmap, MAP_SHARED, PROT_READ, PROT_WRITE } from '../sys/mman';
import { socketPair } from '../sys/socket';
import { ShmemWindow } from '@vfs/harness/vhost_user_driver/shmem_window';
import { BackendChannel } from './backend_channel';
import { Connection, u64Payload } from './connection';
import { BackendRequest, FLAG_REPLY, SHMEM_MAP_READ_WRITE } from './protocol';

test('SHMEM_MAP puts a file range into the front-end DAX window; SHMEM_UNMAP takes it out', () => {
  const [a, b] = socketPair();
  const channel = new BackendChannel(new Connection(a, 1000), false);
  const vmm = new Connection(b, 1000);
  const window = new ShmemWindow(1 << 20);
  const file = memfdCreate('dax-file');
  ftruncate(file, 8192);
  const fileAddr = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
  memoryView(fileAddr + 4096, 5).set(new TextEncoder().encode('hello'));

  expect(
    channel.shmemMap({ shmid: 0, fdOffset: 4096, shmOffset: 65536, len: 4096, flags: SHMEM_MAP_READ_WRITE }, file),
  ).toBe(0n);
  const map = vmm.receive()!;
  expect(map.request).toBe(BackendRequest.SHMEM_MAP);
  expect(window.handle(map)).toBe(0n);
  expect(new TextDecoder().decode(window.view(65536, 5))).toBe('hello');

  channel.shmemUnmap({ shmid: 0, shmOffset: 65536, len: 4096 });
  expect(window.handle(vmm.receive()!)).toBe(0n);

  munmap(fileAddr, 8192);
  close(file);
  window.close();
  channel.close();
  vmm.close();
});

test('a reply that comes after its request timed out does not answer the next request', () => {
  const [a, b] = socketPair();
  const channel = new BackendChannel(new Connection(a, 1000), true, null, 50);
  const vmm = new Connection(b, 1000);
  const unmap = { shmid: 0, shmOffset: 0, len: 4096 };
  try {
    expect(() => channel.shmemUnmap(unmap)).toThrow('no reply to SHMEM_UNMAP within 50 ms');
    // The late refusal of the first, then the answer to the second.
    vmm.send(BackendRequest.SHMEM_UNMAP, FLAG_REPLY, u64Payload(1));
    vmm.send(BackendRequest.SHMEM_UNMAP, FLAG_REPLY, u64Payload(0));
    expect(channel.shmemUnmap(unmap)).toBe(0n);
    expect([vmm.receive()?.request, vmm.receive()?.request]).toEqual([
      BackendRequest.SHMEM_UNMAP,
      BackendRequest.SHMEM_UNMAP,
    ]);
  } finally {
    channel.close();
    vmm.close();
  }
});
