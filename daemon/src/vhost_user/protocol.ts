// Every vhost-user protocol fact in one place, as QEMU's docs/interop/vhost-user.rst defines them:
// message header and flags, request numbers on both channels, feature bits and payload layouts.
// All numbers are little-endian (the spec says native byte order; we only run on LE hosts).

/** Header: u32 request | u32 flags | u32 payload size. */
export const HEADER_SIZE = 12;
export const VERSION = 0x1;
export const VERSION_MASK = 0x3;
export const FLAG_REPLY = 0x4;
export const FLAG_NEED_REPLY = 0x8;
/** The largest payload we accept; the biggest real one is GET_SHMEM_CONFIG's reply (2056 bytes). */
export const MAX_PAYLOAD_SIZE = 4096;

/** Requests sent by the front-end (QEMU) to the back-end. */
export const FrontendRequest = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
  /** Formerly SET_SLAVE_REQ_FD. */
  SET_BACKEND_REQ_FD: 21,
  IOTLB_MSG: 22,
  SET_VRING_ENDIAN: 23,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  CREATE_CRYPTO_SESSION: 26,
  CLOSE_CRYPTO_SESSION: 27,
  POSTCOPY_ADVISE: 28,
  POSTCOPY_LISTEN: 29,
  POSTCOPY_END: 30,
  GET_INFLIGHT_FD: 31,
  SET_INFLIGHT_FD: 32,
  GPU_SET_SOCKET: 33,
  RESET_DEVICE: 34,
  VRING_KICK: 35,
  GET_MAX_MEM_SLOTS: 36,
  ADD_MEM_REG: 37,
  REM_MEM_REG: 38,
  SET_STATUS: 39,
  GET_STATUS: 40,
  GET_SHARED_OBJECT: 41,
  SET_DEVICE_STATE_FD: 42,
  CHECK_DEVICE_STATE: 43,
  GET_SHMEM_CONFIG: 44,
} as const;

/** Requests sent by the back-end to the front-end over the SET_BACKEND_REQ_FD channel. */
export const BackendRequest = {
  IOTLB_MSG: 1,
  CONFIG_CHANGE_MSG: 2,
  VRING_HOST_NOTIFIER_MSG: 3,
  VRING_CALL: 4,
  VRING_ERR: 5,
  SHARED_OBJECT_ADD: 6,
  SHARED_OBJECT_REMOVE: 7,
  SHARED_OBJECT_LOOKUP: 8,
  SHMEM_MAP: 9,
  SHMEM_UNMAP: 10,
} as const;

const frontendNames = new Map<number, string>(Object.entries(FrontendRequest).map(([k, v]) => [v, k]));
const backendNames = new Map<number, string>(Object.entries(BackendRequest).map(([k, v]) => [v, k]));

export function frontendRequestName(code: number): string {
  return frontendNames.get(code) ?? `unknown request ${code}`;
}

export function backendRequestName(code: number): string {
  return backendNames.get(code) ?? `unknown back-end request ${code}`;
}

/** Virtio and vhost feature bit numbers (bits ≥ 32 exist: feature masks are bigint). */
export const VirtioFeature = {
  NOTIFY_ON_EMPTY: 24,
  /** VHOST_F_LOG_ALL: dirty-page logging for live migration. */
  LOG_ALL: 26,
  RING_INDIRECT_DESC: 28,
  RING_EVENT_IDX: 29,
  /** VHOST_USER_F_PROTOCOL_FEATURES: reuses the reserved virtio bit 30. */
  PROTOCOL_FEATURES: 30,
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
  RING_PACKED: 34,
  RING_RESET: 40,
} as const;

export const ProtocolFeature = {
  MQ: 0,
  LOG_SHMFD: 1,
  RARP: 2,
  REPLY_ACK: 3,
  MTU: 4,
  /** Formerly SLAVE_REQ. */
  BACKEND_REQ: 5,
  CROSS_ENDIAN: 6,
  CRYPTO_SESSION: 7,
  PAGEFAULT: 8,
  CONFIG: 9,
  /** Formerly SLAVE_SEND_FD. */
  BACKEND_SEND_FD: 10,
  HOST_NOTIFIER: 11,
  INFLIGHT_SHMFD: 12,
  RESET_DEVICE: 13,
  INBAND_NOTIFICATIONS: 14,
  CONFIGURE_MEM_SLOTS: 15,
  STATUS: 16,
  XEN_MMAP: 17,
  SHARED_OBJECT: 18,
  DEVICE_STATE: 19,
  GET_VRING_BASE_INFLIGHT: 20,
  /** QEMU ≥ 11.1: VIRTIO shared-memory regions (GET_SHMEM_CONFIG, SHMEM_MAP/UNMAP). */
  SHMEM: 22,
} as const;

export function bit(n: number): bigint {
  return 1n << BigInt(n);
}

export function hasBit(mask: bigint, n: number): boolean {
  return (mask & bit(n)) !== 0n;
}

/** SET_VRING_KICK/CALL/ERR u64: bits 0-7 the vring index, bit 8 "no fd attached". */
export const VRING_INDEX_MASK = 0xff;
export const VRING_NOFD_MASK = 0x100;

/** Payload layouts: byte sizes and field offsets. */
export const Layout = {
  U64_SIZE: 8,
  /** vring state: u32 index | u32 num. */
  VRING_STATE_SIZE: 8,
  /** vring address: u32 index | u32 flags | u64 descriptor | u64 used | u64 available | u64 log. */
  VRING_ADDR_SIZE: 40,
  VRING_ADDR_DESC: 8,
  VRING_ADDR_USED: 16,
  VRING_ADDR_AVAIL: 24,
  VRING_ADDR_LOG: 32,
  /** memory region: u64 guest address | u64 size | u64 user address | u64 mmap offset. */
  MEMORY_REGION_SIZE: 32,
  /** memory table: u32 count | u32 padding | regions[8]. */
  MEMORY_TABLE_HEADER: 8,
  MEMORY_TABLE_MAX_REGIONS: 8,
  /** single memory region (ADD/REM_MEM_REG): u64 padding | region. */
  SINGLE_REGION_SIZE: 40,
  SINGLE_REGION_OFFSET: 8,
  /** log: u64 size | u64 offset. */
  LOG_SIZE: 16,
  /** MMAP request (SHMEM_MAP/UNMAP): u8 shmid | 7 padding | u64 fd_offset | u64 shm_offset | u64 len | u64 flags. */
  SHMEM_MMAP_SIZE: 40,
  /** VIRTIO shared memory config: u32 count | u32 padding | u64 sizes[256]. */
  SHMEM_CONFIG_SIZE: 8 + 256 * 8,
  SHMEM_MAX_REGIONS: 256,
  /** device config space (GET/SET_CONFIG): u32 offset | u32 size | u32 flags | bytes[size]. */
  CONFIG_HEADER: 12,
  CONFIG_MAX_SIZE: 256,
} as const;

/** virtio-fs config space: tag (36 bytes, NUL-padded UTF-8) | u32 num_request_queues. */
export const VirtioFsConfig = {
  TAG_SIZE: 36,
  NUM_REQUEST_QUEUES: 36,
  SIZE: 40,
} as const;

/** SHMEM_MAP flags. */
export const SHMEM_MAP_READ_WRITE = 1;

/** Vring address flags: VHOST_VRING_F_LOG. */
export const VRING_F_LOG = 1;
