// Split virtqueue layout (virtio 1.x §2.7), shared by the device side and the test driver side.

export const DESC_SIZE = 16;
/** Descriptor fields: u64 addr | u32 len | u16 flags | u16 next. */
export const DESC_ADDR = 0;
export const DESC_LEN = 8;
export const DESC_FLAGS = 12;
export const DESC_NEXT = 14;

export const DescFlag = {
  NEXT: 1,
  WRITE: 2,
  INDIRECT: 4,
} as const;

/** avail.flags: the driver asks not to be interrupted (ignored under EVENT_IDX). */
export const AVAIL_F_NO_INTERRUPT = 1;
/** used.flags: the device asks not to be kicked (ignored under EVENT_IDX). */
export const USED_F_NO_NOTIFY = 1;

export const MAX_QUEUE_SIZE = 32768;

export function descTableBytes(size: number): number {
  return DESC_SIZE * size;
}

/** avail: u16 flags | u16 idx | u16 ring[size] | u16 used_event. */
export function availRingBytes(size: number): number {
  return 6 + 2 * size;
}

/** used: u16 flags | u16 idx | {u32 id, u32 len}[size] | u16 avail_event. */
export function usedRingBytes(size: number): number {
  return 6 + 8 * size;
}

/** u16 index of used_event in the avail ring: after flags, idx and ring[size]. */
export function usedEventOffset(size: number): number {
  return 2 + size;
}

/** u16 index of avail_event in the used ring: after flags, idx and {u32 id, u32 len}[size]. */
export function availEventOffset(size: number): number {
  return 2 + 4 * size;
}

/** Whether the peer must be notified: vring_need_event() of the virtio spec, on u16 indices. */
export function needEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
