// The vhost-user back-end state machine of a virtio-fs device: answers every front-end message,
// owns guest memory and the vrings, and tells the device loop (through VringObserver) which kick
// fds to watch and which queues to process. A bad message is answered with a failure (where the
// front-end expects an answer) and logged; the connection keeps serving.
import type { Logger } from 'pino';
import { closeAll, setNonBlocking } from '../sys/fd';
import { SysError } from '../sys/libc';
import { GuestMemory, GuestMemoryError, type RegionSpec } from '../virtio/guest_memory';
import { MAX_QUEUE_SIZE } from '../virtio/ring_layout';
import { Virtqueue } from '../virtio/virtqueue';
import type { VirtqueueError } from '../virtio/virtqueue_error';
import { BackendChannel, type Neighbours } from './backend_channel';
import { Connection, readU64Payload, u64Payload, type VhostUserMessage } from './connection';
import { VhostUserError } from './errors';
import { GuestErrorLog } from './guest_error_log';
import {
  FLAG_NEED_REPLY,
  FrontendRequest as R,
  Layout,
  ProtocolFeature as PF,
  VERSION,
  VERSION_MASK,
  VRING_F_LOG,
  VRING_INDEX_MASK,
  VRING_NOFD_MASK,
  VirtioFeature as VF,
  VirtioFsConfig,
  bit,
  frontendRequestName,
  hasBit,
} from './protocol';
import { Vring } from './vring';

export interface BackendOptions {
  /** Request queues besides the hiprio queue. */
  readonly requestQueues: number;
  /**
   * The virtio-fs tag, answered in the config space (GET_CONFIG) when a shared-memory region is
   * offered: only QEMU's generic vhost-user device, which a DAX window needs, asks for it, and
   * vhost-user-fs-pci (which has its own tag) warns on QEMU ≥ 10 about an offered CONFIG.
   */
  readonly tag?: string;
  /** GET_MAX_MEM_SLOTS answer: how many regions ADD_MEM_REG may add. */
  readonly maxMemSlots?: number;
  /** VIRTIO shared-memory region sizes (index = shmid; region 0 is the virtio-fs DAX window). */
  readonly shmemSizes?: readonly number[];
}

/** How the back-end drives the device loop. */
export interface VringObserver {
  watchKick(index: number, fd: number): void;
  /** Called before the fd is closed or the ring stops. */
  unwatchKick(index: number, fd: number): void;
  /** The queue may have buffers to process now (started, enabled, or remapped). */
  queueRunnable(index: number): void;
  /**
   * Drop all device state (the FUSE session) and answer or drop every chain it holds: guest memory
   * those chains point into is unmapped as soon as this returns.
   */
  resetDevice(): void;
  /**
   * A back-end request awaits its reply: read one front-end message and serve it now or hold it
   * back for later; false when the front-end has gone.
   */
  serveFrontendMessage(): boolean;
  /** A message held back (serveFrontendMessage) awaits its answer: the front-end answers nothing first. */
  readonly frontendBlocked: boolean;
  /** The other devices on this thread, served too while a back-end request awaits its reply. */
  readonly neighbours?: Neighbours;
}

/**
 * KVM's slot limit, as virtiofsd offers: every writable DAX mapping becomes a memory region that
 * QEMU announces with ADD_MEM_REG, so a few dozen slots run out quickly.
 */
const DEFAULT_MAX_MEM_SLOTS = 509;
/** Requests whose reply the front-end always waits for, even without NEED_REPLY. */
const ALWAYS_REPLY = new Set<number>([
  R.GET_FEATURES,
  R.GET_PROTOCOL_FEATURES,
  R.GET_VRING_BASE,
  R.GET_QUEUE_NUM,
  R.GET_MAX_MEM_SLOTS,
  R.GET_STATUS,
  R.GET_SHMEM_CONFIG,
  R.GET_CONFIG,
]);
const FAILURE = 1n;

export class VhostUserBackend {
  readonly memory: GuestMemory;
  readonly vrings: Vring[];
  readonly offeredFeatures: bigint;
  readonly offeredProtocolFeatures: bigint;
  /** The config space GET_CONFIG answers; null without a window or a tag that fits (no CONFIG then). */
  private readonly config: Uint8Array | null;
  private ackedFeatures = 0n;
  private protocolFeatures = 0n;
  private status = 0;
  private owned = false;
  private channel: BackendChannel | null = null;

  constructor(
    private readonly conn: Connection,
    private readonly options: BackendOptions,
    private readonly observer: VringObserver,
    private readonly log: Logger,
  ) {
    this.memory = new GuestMemory(options.maxMemSlots ?? DEFAULT_MAX_MEM_SLOTS);
    const guestErrors = new GuestErrorLog(log);
    const onGuestError = (error: VirtqueueError): void => guestErrors.warn(error);
    this.vrings = Array.from({ length: 1 + options.requestQueues }, (_, i) => new Vring(i, this.memory, onGuestError));
    this.offeredFeatures =
      bit(VF.VERSION_1) | bit(VF.RING_INDIRECT_DESC) | bit(VF.RING_EVENT_IDX) | bit(VF.PROTOCOL_FEATURES);
    const shmem = (options.shmemSizes ?? []).length > 0 ? bit(PF.SHMEM) : 0n;
    const tag = shmem !== 0n ? options.tag : undefined;
    this.config = tag === undefined ? null : virtioFsConfig(tag, options.requestQueues);
    if (tag !== undefined && this.config === null)
      log.warn({ tag }, `a tag must be 1 to ${VirtioFsConfig.TAG_SIZE} bytes: no config space offered`);
    this.offeredProtocolFeatures =
      bit(PF.MQ) |
      bit(PF.REPLY_ACK) |
      bit(PF.BACKEND_REQ) |
      bit(PF.BACKEND_SEND_FD) |
      bit(PF.CONFIGURE_MEM_SLOTS) |
      bit(PF.RESET_DEVICE) |
      bit(PF.STATUS) |
      (this.config !== null ? bit(PF.CONFIG) : 0n) |
      shmem;
  }

  /** The back-end channel, once the front-end provided one (for DAX mapping requests). */
  get backendChannel(): BackendChannel | null {
    return this.channel;
  }

  get negotiatedFeatures(): bigint {
    return this.ackedFeatures;
  }

  /** The front-end acked SHMEM: it serves SHMEM_MAP/UNMAP into the regions we offered. */
  get shmemNegotiated(): boolean {
    return hasBit(this.protocolFeatures, PF.SHMEM);
  }

  /** Whether the front-end waits for an answer to `msg` before it goes on. */
  awaitsReply(msg: VhostUserMessage): boolean {
    return ALWAYS_REPLY.has(msg.request) || this.wantsAck(msg);
  }

  /** Handles one message; only a bug in this module can make it throw. */
  handle(msg: VhostUserMessage): void {
    const replyAck = this.wantsAck(msg);
    try {
      if ((msg.flags & VERSION_MASK) !== VERSION) {
        throw new VhostUserError(`unsupported protocol version ${msg.flags & VERSION_MASK}`);
      }
      if (msg.fdsTruncated) throw new VhostUserError('more fds attached than a message may carry');
      const reply = this.dispatch(msg);
      if (reply !== null) this.conn.reply(msg.request, reply);
      else if (replyAck) this.conn.reply(msg.request, u64Payload(0));
    } catch (err) {
      if (!(err instanceof VhostUserError || err instanceof SysError || err instanceof GuestMemoryError)) throw err;
      this.log.warn({ request: frontendRequestName(msg.request), err: err.message }, 'request failed');
      if (replyAck || ALWAYS_REPLY.has(msg.request)) this.conn.reply(msg.request, u64Payload(FAILURE));
    } finally {
      closeAll(msg.fds.splice(0));
    }
  }

  private wantsAck(msg: VhostUserMessage): boolean {
    return (msg.flags & FLAG_NEED_REPLY) !== 0 && hasBit(this.protocolFeatures, PF.REPLY_ACK);
  }

  /** Drops everything: the connection is gone. */
  close(): void {
    this.dropDeviceState();
    this.memory.clear();
    this.channel?.close();
    this.channel = null;
  }

  /** Runs one request; returns its explicit reply payload, or null. */
  private dispatch(msg: VhostUserMessage): Uint8Array | null {
    switch (msg.request) {
      case R.GET_FEATURES:
        return u64Payload(this.offeredFeatures);
      case R.SET_FEATURES:
        return this.setFeatures(readU64Payload(msg));
      case R.GET_PROTOCOL_FEATURES:
        return u64Payload(this.offeredProtocolFeatures);
      case R.SET_PROTOCOL_FEATURES:
        return this.setProtocolFeatures(readU64Payload(msg));
      case R.SET_OWNER:
        if (this.owned) this.log.info('SET_OWNER again on the same connection');
        this.owned = true;
        return null;
      case R.RESET_OWNER:
        // Deprecated; the spec recommends treating it as "disable all rings".
        for (const v of this.vrings) this.stopVring(v);
        return null;
      case R.SET_MEM_TABLE:
        return this.setMemTable(msg);
      case R.GET_MAX_MEM_SLOTS:
        return u64Payload(this.memory.maxRegions);
      case R.ADD_MEM_REG:
        return this.addMemReg(msg);
      case R.REM_MEM_REG:
        return this.remMemReg(msg);
      case R.SET_LOG_BASE:
      case R.SET_LOG_FD:
        throw new VhostUserError('dirty-page logging is not supported (VHOST_F_LOG_ALL is not offered)');
      case R.SET_VRING_NUM:
        return this.setVringNum(msg);
      case R.SET_VRING_ADDR:
        return this.setVringAddr(msg);
      case R.SET_VRING_BASE:
        return this.setVringBase(msg);
      case R.GET_VRING_BASE:
        return this.getVringBase(msg);
      case R.SET_VRING_KICK:
      case R.SET_VRING_CALL:
      case R.SET_VRING_ERR:
        return this.setVringFd(msg);
      case R.SET_VRING_ENABLE:
        return this.setVringEnable(msg);
      case R.GET_QUEUE_NUM:
        return u64Payload(this.vrings.length);
      case R.SET_BACKEND_REQ_FD:
        return this.setBackendReqFd(msg);
      case R.RESET_DEVICE:
        this.resetDevice();
        return null;
      case R.SET_STATUS:
        // Recorded only: QEMU ≥ 8 sends status 0 on every vhost stop (VM pause), not just on reset.
        this.status = Number(readU64Payload(msg) & 0xffn);
        return null;
      case R.GET_STATUS:
        return u64Payload(this.status);
      case R.GET_SHMEM_CONFIG:
        return this.shmemConfig();
      case R.GET_CONFIG:
        return this.getConfig(msg);
      case R.SET_CONFIG:
        throw new VhostUserError('SET_CONFIG: the virtio-fs config space is read-only');
      default:
        throw new VhostUserError(`unsupported request ${frontendRequestName(msg.request)}`, { request: msg.request });
    }
  }

  private setFeatures(features: bigint): null {
    const unknown = features & ~this.offeredFeatures;
    if (unknown !== 0n) throw new VhostUserError(`SET_FEATURES with features not offered: 0x${unknown.toString(16)}`);
    this.ackedFeatures = features;
    // Without protocol features, rings are enabled from the start (spec: "Ring states").
    if (!hasBit(features, VF.PROTOCOL_FEATURES)) for (const v of this.vrings) v.enabled = true;
    return null;
  }

  private setProtocolFeatures(features: bigint): null {
    const unknown = features & ~this.offeredProtocolFeatures;
    if (unknown !== 0n) {
      throw new VhostUserError(`SET_PROTOCOL_FEATURES with features not offered: 0x${unknown.toString(16)}`);
    }
    this.protocolFeatures = features;
    return null;
  }

  private setMemTable(msg: VhostUserMessage): null {
    const v = view(msg, Layout.MEMORY_TABLE_HEADER);
    const count = v.getUint32(0, true);
    if (count === 0 || count > Layout.MEMORY_TABLE_MAX_REGIONS)
      throw new VhostUserError(`SET_MEM_TABLE with ${count} regions`);
    view(msg, Layout.MEMORY_TABLE_HEADER + count * Layout.MEMORY_REGION_SIZE);
    if (msg.fds.length !== count)
      throw new VhostUserError(`SET_MEM_TABLE with ${count} regions but ${msg.fds.length} fds`);
    const specs: RegionSpec[] = [];
    for (let i = 0; i < count; i++)
      specs.push(readRegion(v, Layout.MEMORY_TABLE_HEADER + i * Layout.MEMORY_REGION_SIZE));
    this.memory.setTable(specs, msg.fds.splice(0));
    this.log.info({ regions: specs.length }, 'memory table set');
    this.remapRunningRings();
    return null;
  }

  private addMemReg(msg: VhostUserMessage): null {
    const spec = readRegion(view(msg, Layout.SINGLE_REGION_SIZE), Layout.SINGLE_REGION_OFFSET);
    if (msg.fds.length !== 1) throw new VhostUserError(`ADD_MEM_REG with ${msg.fds.length} fds`);
    this.memory.addRegion(spec, msg.fds.splice(0)[0]!);
    this.remapRunningRings();
    return null;
  }

  private remMemReg(msg: VhostUserMessage): null {
    // An fd may come along for compatibility with old front-ends; handle() closes it unused.
    const spec = readRegion(view(msg, Layout.SINGLE_REGION_SIZE), Layout.SINGLE_REGION_OFFSET);
    this.memory.removeRegion(spec);
    this.remapRunningRings();
    return null;
  }

  private setVringNum(msg: VhostUserMessage): null {
    const { vring, num } = this.vringState(msg);
    if (num === 0 || num > MAX_QUEUE_SIZE || (num & (num - 1)) !== 0) {
      throw new VhostUserError(`queue ${vring.index}: size ${num} is not a power of 2 up to ${MAX_QUEUE_SIZE}`);
    }
    if (vring.queue.isReady) throw new VhostUserError(`queue ${vring.index}: SET_VRING_NUM while it runs`);
    vring.size = num;
    return null;
  }

  private setVringAddr(msg: VhostUserMessage): null {
    const v = view(msg, Layout.VRING_ADDR_SIZE);
    const vring = this.vringAt(v.getUint32(0, true));
    if ((v.getUint32(4, true) & VRING_F_LOG) !== 0) throw new VhostUserError('vring logging is not supported');
    vring.addresses = {
      desc: readU64(v, Layout.VRING_ADDR_DESC),
      used: readU64(v, Layout.VRING_ADDR_USED),
      avail: readU64(v, Layout.VRING_ADDR_AVAIL),
    };
    if (vring.queue.isReady) vring.base = vring.queue.stop();
    this.tryStart(vring);
    return null;
  }

  private setVringBase(msg: VhostUserMessage): null {
    const { vring, num } = this.vringState(msg);
    if (vring.queue.isReady) throw new VhostUserError(`queue ${vring.index}: SET_VRING_BASE while it runs`);
    vring.base = num & 0xffff;
    return null;
  }

  /** Stops the ring and reports where the front-end should resume. */
  private getVringBase(msg: VhostUserMessage): Uint8Array {
    const { vring } = this.vringState(msg);
    this.stopVring(vring);
    const payload = new Uint8Array(Layout.VRING_STATE_SIZE);
    const v = new DataView(payload.buffer);
    v.setUint32(0, vring.index, true);
    v.setUint32(4, vring.base, true);
    return payload;
  }

  private setVringFd(msg: VhostUserMessage): null {
    const value = Number(readU64Payload(msg) & 0xffffn);
    const vring = this.vringAt(value & VRING_INDEX_MASK);
    const noFd = (value & VRING_NOFD_MASK) !== 0;
    if (noFd ? msg.fds.length !== 0 : msg.fds.length !== 1) {
      throw new VhostUserError(
        `${frontendRequestName(msg.request)} for queue ${vring.index} with ${msg.fds.length} fds`,
      );
    }
    const fd = noFd ? -1 : msg.fds.splice(0)[0]!;
    switch (msg.request) {
      case R.SET_VRING_KICK:
        if (vring.watched) this.unwatch(vring);
        vring.setKick(fd);
        if (noFd) throw new VhostUserError(`queue ${vring.index}: polling mode (no kick fd) is not supported`);
        this.tryStart(vring);
        break;
      // Signalled from the device loop: a front-end's fd that blocked (a pipe nobody reads) would
      // stop every export, so it is made non-blocking (QEMU's eventfds already are).
      case R.SET_VRING_CALL:
        if (!noFd) setNonBlocking(fd);
        vring.setCall(fd);
        break;
      default:
        if (!noFd) setNonBlocking(fd);
        vring.setErr(fd);
    }
    return null;
  }

  private setVringEnable(msg: VhostUserMessage): null {
    const { vring, num } = this.vringState(msg);
    if (num > 1) throw new VhostUserError(`queue ${vring.index}: SET_VRING_ENABLE with ${num}`);
    vring.enabled = num === 1;
    if (vring.runnable) this.observer.queueRunnable(vring.index);
    return null;
  }

  private setBackendReqFd(msg: VhostUserMessage): null {
    if (msg.fds.length !== 1) throw new VhostUserError(`SET_BACKEND_REQ_FD with ${msg.fds.length} fds`);
    this.channel?.close();
    const observer = this.observer;
    this.channel = new BackendChannel(
      new Connection(msg.fds.splice(0)[0]!),
      hasBit(this.protocolFeatures, PF.REPLY_ACK),
      {
        fd: this.conn.fd,
        serveOne: () => observer.serveFrontendMessage(),
        get blocked() {
          return observer.frontendBlocked;
        },
        ...(observer.neighbours ? { neighbours: observer.neighbours } : {}),
      },
    );
    return null;
  }

  private shmemConfig(): Uint8Array {
    const sizes = this.options.shmemSizes ?? [];
    if (sizes.length === 0) throw new VhostUserError('GET_SHMEM_CONFIG but no shared-memory region is configured');
    const payload = new Uint8Array(Layout.SHMEM_CONFIG_SIZE);
    const v = new DataView(payload.buffer);
    v.setUint32(0, sizes.filter((s) => s > 0).length, true);
    for (const [i, size] of sizes.entries()) v.setBigUint64(8 + 8 * i, BigInt(size), true);
    return payload;
  }

  /** Echoes the request's header with the asked range of the config space. */
  private getConfig(msg: VhostUserMessage): Uint8Array {
    if (this.config === null) throw new VhostUserError('GET_CONFIG but no config space is offered');
    const v = view(msg, Layout.CONFIG_HEADER);
    const offset = v.getUint32(0, true);
    const size = v.getUint32(4, true);
    if (offset > this.config.length || size > this.config.length - offset) {
      throw new VhostUserError(`GET_CONFIG of ${size} bytes at ${offset}: the config space has ${this.config.length}`);
    }
    const payload = new Uint8Array(Layout.CONFIG_HEADER + size);
    payload.set(msg.payload.subarray(0, Layout.CONFIG_HEADER));
    payload.set(this.config.subarray(offset, offset + size), Layout.CONFIG_HEADER);
    return payload;
  }

  private resetDevice(): void {
    this.log.info('device reset by the front-end');
    this.dropDeviceState();
    this.ackedFeatures = 0n;
    this.status = 0;
  }

  /**
   * The device logic first, while every region its in-flight chains point into (retired ones
   * included) is still mapped: it may still write replies there (a parked SETLKW answered EINTR).
   * Only then may the rings go and the retired regions be unmapped.
   */
  private dropDeviceState(): void {
    this.observer.resetDevice();
    for (const v of this.vrings) this.resetVring(v);
    this.memory.unpinAll();
  }

  /** Starts the ring once it has a size, addresses, a kick fd and memory to live in. */
  private tryStart(vring: Vring): void {
    if (vring.kickFd < 0) return;
    if (!vring.queue.isReady && !this.startQueue(vring)) return;
    if (!vring.watched) {
      this.observer.watchKick(vring.index, vring.kickFd);
      vring.watched = true;
    }
    if (vring.runnable) this.observer.queueRunnable(vring.index);
  }

  private startQueue(vring: Vring): boolean {
    if (vring.addresses === null || vring.size === 0 || this.memory.regionCount === 0) return false;
    const bytes = Virtqueue.ringBytes(vring.size);
    const desc = this.memory.userRange(vring.addresses.desc, bytes.desc);
    const avail = this.memory.userRange(vring.addresses.avail, bytes.avail);
    const used = this.memory.userRange(vring.addresses.used, bytes.used);
    if (desc === null || avail === null || used === null) {
      this.log.warn({ queue: vring.index }, 'guest error: vring addresses are outside guest memory; queue not started');
      return false;
    }
    const error = vring.queue.start({
      size: vring.size,
      rings: { desc, avail, used },
      lastAvail: vring.base,
      eventIdx: hasBit(this.ackedFeatures, VF.RING_EVENT_IDX),
      indirect: hasBit(this.ackedFeatures, VF.RING_INDIRECT_DESC),
    });
    if (error !== null)
      this.log.warn({ queue: error.queue, kind: error.kind }, `guest error: ${error.message}; queue not started`);
    return error === null;
  }

  /** After a memory change the ring views must be rebuilt over the new mappings. */
  private remapRunningRings(): void {
    for (const v of this.vrings) {
      if (v.queue.isReady) v.base = v.queue.stop();
      this.tryStart(v);
    }
  }

  private stopVring(vring: Vring): void {
    if (vring.watched) this.unwatch(vring);
    if (vring.queue.isReady) vring.base = vring.queue.stop();
  }

  private resetVring(vring: Vring): void {
    if (vring.watched) this.unwatch(vring);
    vring.reset();
  }

  private unwatch(vring: Vring): void {
    this.observer.unwatchKick(vring.index, vring.kickFd);
    vring.watched = false;
  }

  private vringAt(index: number): Vring {
    const vring = this.vrings[index];
    if (vring === undefined)
      throw new VhostUserError(`queue index ${index} out of range (${this.vrings.length} queues)`);
    return vring;
  }

  private vringState(msg: VhostUserMessage): { vring: Vring; num: number } {
    const v = view(msg, Layout.VRING_STATE_SIZE);
    return { vring: this.vringAt(v.getUint32(0, true)), num: v.getUint32(4, true) };
  }
}

/** struct virtio_fs_config for `tag`, or null when the tag does not fit its 36 bytes. */
function virtioFsConfig(tag: string, requestQueues: number): Uint8Array | null {
  const bytes = new TextEncoder().encode(tag);
  if (bytes.length === 0 || bytes.length > VirtioFsConfig.TAG_SIZE) return null;
  const config = new Uint8Array(VirtioFsConfig.SIZE);
  config.set(bytes);
  new DataView(config.buffer).setUint32(VirtioFsConfig.NUM_REQUEST_QUEUES, requestQueues, true);
  return config;
}

/** A DataView over the payload, which must be at least `min` bytes. */
function view(msg: VhostUserMessage, min: number): DataView {
  if (msg.payload.length < min) {
    throw new VhostUserError(
      `${frontendRequestName(msg.request)}: payload of ${msg.payload.length} bytes, expected ${min}`,
      {
        request: msg.request,
      },
    );
  }
  return new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
}

function readU64(v: DataView, offset: number): number {
  const value = v.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new VhostUserError(`address 0x${value.toString(16)} is out of range`);
  return Number(value);
}

function readRegion(v: DataView, offset: number): RegionSpec {
  return {
    guestAddr: readU64(v, offset),
    size: readU64(v, offset + 8),
    userAddr: readU64(v, offset + 16),
    mmapOffset: readU64(v, offset + 24),
  };
}
