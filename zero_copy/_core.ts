/**
 * The core of the zero-copy layer: `Core`, the per-handle state that the public classes share,
 * the routing of events to channels and listeners, the defaults and the checks of options.
 *
 * @module
 */

import { arrayBuffer, Const, type Handle, type NativeSymbols, Opt, Stat, Status } from "../ffi/mod.ts";
import { adapter, type Doorbell } from "../runtime/mod.ts";
import * as check from "../_check.ts";
import { ClosedError, DomainError, InvalidArgumentError, InvalidNameError } from "../errors.ts";
import * as wake from "./_wake.ts";
import { kCreate, kDisown, kOptions, kOwn, kPush, kWake } from "./_internal.ts";
import { statusError } from "./_status.ts";
import { SharedBuffer } from "./buffer.ts";
import { Channel } from "./channel.ts";
import type { Listener } from "./listener.ts";
import type { Backing, ChannelOptions, DomainOptions, PollMode, SizeClass } from "./types.ts";

const DEFAULT_CLASSES: SizeClass[] = [
  { size: 256, count: 8192 },
  { size: 4096, count: 2048 },
  { size: 65536, count: 256 },
  { size: 1 << 20, count: 16 },
];
export const BACKINGS: Record<number, Backing> = { 1: "hugetlbfs", 2: "shm-thp", 3: "shm", 4: "file" };
/** The rule for domain and service names (the native side checks it too). */
const NAME = /^(?!\.)(?!.*\.\.)[A-Za-z0-9._:-]{1,64}$/;
export const encoder = new TextEncoder();
/** Below this many bytes a JS copy beats the native call. */
export const COPY_NATIVE_MIN = 512;
/** How long a busy-poll spins at full speed before it yields the core between tries, in ms. */
export const POLITE_AFTER_MS = 0.02;
export const EMPTY = new Uint8Array(0);
export const SIDE_CLIENT = 0;
export const SIDE_SERVER = 1;

/** `name` as UTF-8, or an InvalidNameError. */
export function checkName(kind: string, name: string): Uint8Array {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new InvalidNameError(
      `Invalid ${kind} name ${JSON.stringify(name)}: use 1-64 characters of A-Z a-z 0-9 . _ - :, ` +
        `with no ".." and no leading "."`,
    );
  }
  return encoder.encode(name);
}

/**
 * The default of `pollMicros`: the longest an event-mode channel polls for an answer it expects
 * before it sleeps on its doorbell, in microseconds. Polling that long costs at most as much CPU
 * as the wake-up of an idle process takes on a VM, and only while answers have been coming that
 * fast.
 */
export const DEFAULT_POLL_MICROS = 500;

/** Checks an option that counts microseconds. */
export function checkMicros(name: string, value: number | undefined): void {
  if (value !== undefined) check.number(`${name} (microseconds)`, value, 0, 1e7);
}

/** The largest domain mapping: 4 GiB, what every runtime's ArrayBuffer can view. */
const MAPPING_MAX = 2 ** 32;

/** The option words of `xio_open`, every number checked first (see _check.ts). */
export function openWords(options: DomainOptions): Uint32Array {
  const what = `Domain.open({ name: ${JSON.stringify(options.name)} })`;
  const words = new Uint32Array(Opt.words);
  words[Opt.flags] = options.create === false ? 0 : 1;
  if (options.hugepages !== undefined && !["auto", "require", "never"].includes(options.hugepages)) {
    throw new InvalidArgumentError(`${what}: hugepages must be "auto", "require" or "never"`);
  }
  words[Opt.hugepages] = options.hugepages === "require" ? 1 : options.hugepages === "never" ? 2 : 0;
  const group = options.trust?.group;
  words[Opt.group] = group === undefined
    ? check.U32_MAX
    : check.integer(`${what}: trust.group`, group, 0, 0xffff_fffe);
  words[Opt.mode] = check.optionalInteger(
    `${what}: mode`,
    options.mode,
    group === undefined ? 0o600 : 0o660,
    0,
    0o777,
  );
  words[Opt.runtime] = adapter.name === "deno" ? 1 : 2;
  words[Opt.nodeMax] = check.optionalInteger(`${what}: nodes`, options.nodes, 64, 1, 256);
  words[Opt.serviceMax] = check.optionalInteger(`${what}: services`, options.services, 128, 1, 4096);
  const channels = check.optionalInteger(`${what}: channels`, options.channels, 1024, 64, 4096);
  if (channels % 64 !== 0) {
    throw new InvalidArgumentError(`${what}: channels must be a multiple of 64, got ${channels}`);
  }
  words[Opt.channelMax] = channels;
  const ring = check.optionalInteger(`${what}: ringCapacity`, options.ringCapacity, 1024, 2, 65536);
  if ((ring & (ring - 1)) !== 0) {
    throw new InvalidArgumentError(`${what}: ringCapacity must be a power of two, got ${ring}`);
  }
  words[Opt.ringCapacity] = ring;
  const timeout = options.lockTimeoutMs === undefined
    ? 1000
    : check.number(`${what}: lockTimeoutMs`, options.lockTimeoutMs, 0, 3_600_000);
  words[Opt.lockTimeoutMs] = Math.ceil(timeout);
  const owners = options.trust?.owners ?? [];
  if (!Array.isArray(owners) || owners.length > Opt.ownersMax) {
    throw new InvalidArgumentError(`${what}: trust.owners must be an array of at most ${Opt.ownersMax} uids`);
  }
  for (let i = 0; i < Opt.ownersMax; i++) {
    words[Opt.owners + i] = i < owners.length
      ? check.integer(`${what}: trust.owners[${i}]`, owners[i], 0, 0xffff_fffe)
      : check.U32_MAX;
  }
  const classes = options.classes ?? DEFAULT_CLASSES;
  if (!Array.isArray(classes) || classes.length < 1 || classes.length > 4) {
    throw new InvalidArgumentError(`${what}: classes must be 1 to 4 size classes`);
  }
  words[Opt.classCount] = classes.length;
  let previous = 0;
  let total = 0;
  classes.forEach((c, i) => {
    const size = check.integer(`${what}: classes[${i}].size`, c?.size, 64, 2 ** 30);
    if (size % 64 !== 0 || size <= previous) {
      throw new InvalidArgumentError(
        `${what}: classes[${i}].size must be a multiple of 64 above the previous class's, got ${size}`,
      );
    }
    const count = check.integer(`${what}: classes[${i}].count`, c?.count, 1, 2 ** 24);
    previous = size;
    total += size * count;
    words[Opt.classSizes + i] = size;
    words[Opt.classCounts + i] = count;
  });
  if (total >= MAPPING_MAX) {
    throw new InvalidArgumentError(
      `${what}: the size classes need ${total} bytes; a domain holds less than 4 GiB of buffers`,
    );
  }
  return words;
}

/** The options of a channel, from `options` and the handle's defaults. */
export function channelOptions(core: Core, options: ChannelOptions): Required<ChannelOptions> {
  checkMicros("pollMicros", options.pollMicros);
  return { poll: options.poll ?? core.poll, pollMicros: options.pollMicros ?? core.pollMs * 1000 };
}

/** A waiting call, woken by a call of this function. */
export type Waiter = () => void;

/** Per-domain state shared by the public classes of the layer (not exported by it). */
export class Core implements wake.Wakeable {
  readonly sym: NativeSymbols;
  readonly handle: Handle;
  readonly name: string;
  readonly io: Uint32Array;
  readonly events: Uint32Array;
  readonly memory: ArrayBuffer;
  readonly stats: Float64Array = new Float64Array(Stat.words);
  readonly classSize: number[] = [];
  readonly classOffset: number[] = [];
  readonly buffers: (SharedBuffer | undefined)[][] = [];
  readonly clients: (Channel | undefined)[];
  readonly servers: (Channel | undefined)[];
  readonly listeners: (Listener | undefined)[];
  readonly poll: PollMode;
  readonly spinMs: number;
  readonly pollMs: number;
  readonly doorbell: Doorbell;
  allocWaiters: Waiter[] = [];
  closed = false;
  /** Waiters of this handle's channels, allocations and listeners (see `_wake.ts`). */
  waiters = 0;
  /** Whether this node is parked, as far as this process knows (a ring clears it). */
  parked = false;
  /** Channels with waiters, for the backstop's re-check (see `recheck`). */
  readonly waitingChannels: Set<Channel> = new Set();
  /** This node's slot, as u32 words: its news flags are read here without a native call. */
  readonly #node: Uint32Array;

  constructor(sym: NativeSymbols, handle: Handle, options: DomainOptions) {
    this.sym = sym;
    this.handle = handle;
    this.name = options.name;
    this.poll = options.poll ?? "event";
    this.spinMs = (options.spinMicros ?? 50) / 1000;
    this.pollMs = (options.pollMicros ?? DEFAULT_POLL_MICROS) / 1000;
    this.io = new Uint32Array(arrayBuffer(sym.xio_io(handle), Const.ioWords * 4));
    this.events = new Uint32Array(arrayBuffer(sym.xio_events(handle), Const.eventsMax * 4));
    sym.xio_stats(handle, this.stats, Stat.words);
    const s = this.stats;
    this.memory = arrayBuffer(sym.xio_base(handle), s[Stat.size]);
    for (let c = 0; c < s[Stat.classCount]; c++) {
      this.classSize.push(s[Stat.class + Stat.classStride * c]);
      this.classOffset.push(s[Stat.class + Stat.classStride * c + 4]);
      this.buffers.push([]);
    }
    this.clients = new Array(s[Stat.channelMax]);
    this.servers = new Array(s[Stat.channelMax]);
    this.listeners = new Array(s[Stat.serviceMax]);
    this.#node = new Uint32Array(this.memory, sym.xio_node_offset(handle) + Const.nodeWakeOffset, 6);
    try {
      this.doorbell = openDoorbell(this, options);
    } catch (error) {
      sym.xio_close(handle);
      throw error;
    }
    sym.xio_bell_ready(handle);
    wake.register(this);
    if (!exitHooked) {
      exitHooked = true;
      adapter.onExit(closeAllAtExit);
    }
  }

  park(): boolean {
    this.parked = true;
    return this.sym.xio_park(this.handle) !== 0;
  }

  unpark(): void {
    this.parked = false;
    this.sym.xio_unpark(this.handle);
  }

  /** Whether news waits: the node's pool flag and event summary (layout.zig, `Node`). */
  hasEvents(): boolean {
    const node = this.#node;
    return (Atomics.load(node, 2) | Atomics.load(node, 4) | Atomics.load(node, 5)) !== 0;
  }

  probe(): number {
    return this.sym.xio_probe(this.handle);
  }

  yieldCore(): void {
    this.sym.xio_yield();
  }

  /**
   * Looks at every waiting channel again, events or not: a wake-up lost to a peer's crash, or to
   * a scribble over the shared event words, is noticed here (the backstop runs this every few
   * hundred ms), and a slot scribbled on fails its validation with a typed error.
   */
  recheck(): void {
    for (const channel of [...this.waitingChannels]) channel[kWake]();
  }

  /** A waiter of this handle starts waiting. */
  waitBegan(): void {
    this.waiters++;
    wake.waiting(this);
  }

  /** A waiter of this handle stopped waiting. */
  waitEnded(): void {
    this.waiters--;
  }

  /** The cached object of buffer `id`, marked as owned with `length` bytes. */
  adopt(id: number, length: number): SharedBuffer {
    const cls = id >>> Const.bufferClassShift;
    const index = id & ((1 << Const.bufferClassShift) - 1);
    const list = this.buffers[cls];
    let buffer = list[index];
    if (buffer === undefined) {
      const size = this.classSize[cls];
      buffer = SharedBuffer[kCreate](this, id, this.classOffset[cls] + index * size, size);
      list[index] = buffer;
    }
    buffer[kOwn](length);
    return buffer;
  }

  tryAlloc(size: number): SharedBuffer | undefined {
    this.assertOpen();
    check.integer("An allocation's size", size, 0, check.U32_MAX);
    const id = this.sym.xio_alloc(this.handle, size);
    if (id >= 0) return this.adopt(id, size);
    if (id === Status.wouldBlock) return undefined;
    throw this.allocError(id, size);
  }

  async alloc(size: number): Promise<SharedBuffer> {
    for (;;) {
      const buffer = this.tryAlloc(size);
      if (buffer !== undefined) return buffer;
      // Register first, then try again: a release between the two is not missed.
      this.sym.xio_arm_alloc(this.handle, size);
      const again = this.tryAlloc(size);
      if (again !== undefined) return again;
      await this.wait(this.allocWaiters);
    }
  }

  allocError(code: number, size: number): Error {
    const largest = this.classSize[this.classSize.length - 1];
    return statusError(
      code,
      `Cannot allocate ${size} bytes (the largest buffer class of domain "${this.name}" holds ${largest})`,
    );
  }

  release(buffer: SharedBuffer): void {
    const code = this.sym.xio_release(this.handle, buffer.id);
    buffer[kDisown]();
    if (code !== 0) throw statusError(code, `Cannot release buffer ${buffer.id}`);
  }

  /** Parks until `list` is woken, holding the process open meanwhile. */
  wait(list: Waiter[]): Promise<void> {
    this.assertOpen();
    return new Promise((resolve) => {
      list.push(() => {
        this.waitEnded();
        wake.unhold();
        resolve();
      });
      wake.hold();
      this.waitBegan();
    });
  }

  /** Routes every pending event: on a doorbell ring, when polling, or before a wait. */
  drain(): void {
    if (this.closed) return;
    // One pass: what arrives while it runs is seen by the park that follows (which reports news).
    const count = this.sym.xio_take_events(this.handle);
    if (this.io[1] !== 0) wakeAll(this, "allocWaiters");
    for (let i = 0; i < count; i++) {
      const index = this.events[i];
      const client = this.clients[index];
      if (client !== undefined) client[kWake]();
      const server = this.servers[index];
      if (server !== undefined) server[kWake]();
      else this.accept(index);
    }
  }

  accept(index: number): void {
    const service = this.sym.xio_accept(this.handle, index);
    if (service < 0) return;
    const listener = this.listeners[service];
    if (listener === undefined) {
      this.sym.xio_chan_close(this.handle, index, SIDE_SERVER);
      return;
    }
    const channel = Channel[kCreate](this, index, SIDE_SERVER, listener.service, listener[kOptions]);
    this.servers[index] = channel;
    listener[kPush](channel);
  }

  assertOpen(): void {
    if (this.closed) throw new ClosedError(`Domain "${this.name}" is closed`);
  }

  close(): void {
    if (this.closed) return;
    for (const listener of this.listeners) listener?.close();
    for (const channel of this.clients) channel?.close();
    for (const channel of this.servers) channel?.close();
    this.closed = true;
    wake.unregister(this);
    this.doorbell.close();
    wakeAll(this, "allocWaiters");
    for (const list of this.buffers) for (const buffer of list) if (buffer) buffer[kDisown]();
    this.sym.xio_close(this.handle);
  }
}

let exitHooked = false;

/**
 * A process that exits with domains open leaves them cleanly, as the kernel closes a process's
 * sockets: its peers read the end of stream instead of a reset, and its node slot is free at once.
 */
function closeAllAtExit(): void {
  for (const handle of [...wake.openHandles()]) (handle as Core).close();
}

/** Listens on the handle's doorbell socket; the handle is closed if that fails. */
function openDoorbell(core: Core, options: DomainOptions): Doorbell {
  const sym = core.sym;
  const scratch = new Uint8Array(512);
  const length = sym.xio_bell_path(core.handle, scratch, scratch.length);
  let path = "";
  try {
    if (length < 0) throw statusError(length, "the doorbell path");
    path = new TextDecoder().decode(scratch.subarray(0, length));
    return adapter.listenDoorbell(path, options.mode ?? 0o600, {
      onRing: () => wake.rung(core),
      onHangup: () => wake.hungUp(core),
    });
  } catch (cause) {
    throw new DomainError(
      `Cannot open domain "${core.name}": cannot listen on its doorbell socket ${path} (${cause})`,
      "EDOORBELL",
      { cause },
    );
  }
}

function wakeAll(core: Core, key: "allocWaiters"): void {
  const list = core[key];
  if (list.length === 0) return;
  core[key] = [];
  for (const wake of list) wake();
}
