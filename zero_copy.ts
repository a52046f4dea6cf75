/**
 * The zero-copy layer: domains, channels and shared buffers.
 *
 * A {@linkcode Domain} is a shared-memory file that cooperating processes map. A process listens
 * on a service name or connects to one and gets a {@linkcode Channel}: two lock-free rings, one
 * per direction, that carry buffer descriptors. A {@linkcode SharedBuffer} is a block of the
 * domain's memory; sending it moves ownership to the peer and copies no bytes, and forwarding a
 * received buffer to another channel copies nothing either.
 *
 * @example A round trip inside one process
 * ```ts
 * import { Domain } from "@xio/core";
 *
 * using domain = Domain.open({ name: "zero-copy-example" });
 * using listener = domain.listen("echo");
 * const client = await domain.connect("echo");
 * const server = await listener.accept();
 *
 * const buf = await client.alloc(5);
 * buf.bytes.set(new TextEncoder().encode("hello"));
 * await client.send(buf); // ownership moves; `buf` is no longer usable here
 *
 * const msg = await server.recv();
 * console.log(new TextDecoder().decode(msg!.bytes)); // "hello"
 * msg!.release();
 * ```
 *
 * @module
 */

import {
  Const,
  type Doorbell,
  Flag,
  type Handle,
  native,
  type NativeSymbols,
  Opt,
  runtime,
  Stat,
  Status,
} from "./ffi/mod.ts";
import * as wake from "./_wake.ts";

const BATCH_MAX = Const.batchMax;
import * as check from "./_check.ts";
import {
  AddrInUseError,
  BrokenPipeError,
  BufferStateError,
  CapacityError,
  ClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  CorruptDescriptorError,
  DomainError,
  InvalidArgumentError,
  InvalidNameError,
  MessageTooLargeError,
  XioError,
} from "./errors.ts";

/**
 * How a waiting receiver learns that data arrived:
 * - `"event"` (the default) sleeps on the process's doorbell socket, woken by the peer, and
 *   costs no CPU while idle; when it expects an answer soon (it has just sent, and its answers
 *   have come quickly) it polls for about one expected round trip first, at most `pollMicros`;
 * - `"adaptive"` busy-polls for a short window (`spinMicros`, 50 µs by default) before parking;
 * - `"spin"` busy-polls for up to a millisecond per wait, for dedicated cores.
 */
export type PollMode = "event" | "adaptive" | "spin";

/** Where the domain's memory lives. */
export type Backing = "hugetlbfs" | "shm-thp" | "shm" | "file";

/** One buffer size class of a domain. */
export interface SizeClass {
  /** Bytes per buffer: a multiple of 64, strictly larger than the previous class. */
  size: number;
  /** How many buffers of this size. */
  count: number;
}

/** Options of {@linkcode Domain.open}. The sizes apply only when this call creates the domain. */
export interface DomainOptions {
  /** The domain name: 1-64 characters of `A-Z a-z 0-9 . _ - :`, no `..`, no leading `.`. */
  name: string;
  /**
   * The directory of the domain file. By default this user's own directory, `xio-<uid>` (mode
   * 0700, created on first use), under the first of: a hugetlbfs mount, /dev/shm, /tmp.
   */
  dir?: string;
  /** Create the domain if it does not exist (default `true`). */
  create?: boolean;
  /**
   * Huge pages: `"auto"` (default) uses a hugetlbfs mount with enough free pages and falls back
   * to /dev/shm; `"require"` fails instead of falling back; `"never"` skips them.
   */
  hugepages?: "auto" | "require" | "never";
  /**
   * The file mode of a created domain (default `0o600`: owner only; `0o660` with a trusted
   * group).
   */
  mode?: number;
  /**
   * Whose domains this process joins besides its own user's. A domain is a trust boundary:
   * whoever created its file can read everything sent through it. So a domain, lock file or
   * directory owned by another user is refused with a {@linkcode DomainError} (`EOWNER`) unless
   * allowed here: `group` (a gid) makes domains live in that group's directory (`xio-g<gid>`,
   * mode 2770) and joins files of any member; `owners` lists further trusted uids.
   */
  trust?: { group?: number; owners?: number[] };
  /**
   * The longest `Domain.open` (and `listen`) waits for a lock that another process holds, in ms
   * (default 1000). Then it fails with a {@linkcode DomainError} (`ELOCKTIMEOUT`), so that a
   * process that holds a domain's lock for good cannot freeze another's event loop.
   */
  lockTimeoutMs?: number;
  /** The default poll mode of channels opened through this handle (default `"event"`). */
  poll?: PollMode;
  /** The busy-poll window of `"adaptive"` channels, in microseconds (default 50). */
  spinMicros?: number;
  /**
   * The longest an `"event"` channel polls for news it expects soon before it sleeps, in
   * microseconds (default {@linkcode DEFAULT_POLL_MICROS}; 0 never polls).
   */
  pollMicros?: number;
  /** Maximum attached processes (default 64, at most 256). */
  nodes?: number;
  /** Maximum services (default 128). */
  services?: number;
  /** Maximum channels: a multiple of 64, at most 4096 (default 1024). */
  channels?: number;
  /** Descriptors per ring: a power of two (default 1024). */
  ringCapacity?: number;
  /**
   * Up to four size classes, ascending (default 8192 x 256 B, 2048 x 4 KiB, 256 x 64 KiB and
   * 16 x 1 MiB: about 42 MiB of buffers).
   */
  classes?: SizeClass[];
}

/** Per-class buffer counts in {@linkcode DomainStats}. */
export interface ClassStats {
  /** Bytes per buffer. */
  size: number;
  /** Buffers in the class. */
  total: number;
  /** Buffers free right now. */
  free: number;
  /** Allocations since the domain was created. */
  allocations: number;
}

/** A snapshot of a domain, from {@linkcode Domain.stats}. */
export interface DomainStats {
  /** The domain name. */
  name: string;
  /** Where its memory lives. */
  backing: Backing;
  /** The size of the mapping in bytes. */
  size: number;
  /** This process's node index. */
  node: number;
  /** Attached processes. */
  nodes: { active: number; max: number };
  /** Channel slots. */
  channels: { open: number; max: number; opened: number };
  /** Registered services. */
  services: { active: number; max: number };
  /** Buffers, per size class. */
  classes: ClassStats[];
  /** Descriptors that failed validation since the domain was created. */
  corruptDescriptors: number;
  /** Dead processes whose resources were reclaimed. */
  reclaimedNodes: number;
}

const DEFAULT_CLASSES: SizeClass[] = [
  { size: 256, count: 8192 },
  { size: 4096, count: 2048 },
  { size: 65536, count: 256 },
  { size: 1 << 20, count: 16 },
];
const BACKINGS: Record<number, Backing> = { 1: "hugetlbfs", 2: "shm-thp", 3: "shm", 4: "file" };
const NAME = /^(?!\.)(?!.*\.\.)[A-Za-z0-9._:-]{1,64}$/;
const encoder = new TextEncoder();
/** Below this many bytes a JS copy beats the native call. */
const COPY_NATIVE_MIN = 512;
/** How long a busy-poll spins at full speed before it yields the core between tries, in ms. */
const POLITE_AFTER_MS = 0.02;
const EMPTY = new Uint8Array(0);
const SIDE_CLIENT = 0;
const SIDE_SERVER = 1;

function checkName(kind: string, name: string): Uint8Array {
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
function checkMicros(name: string, value: number | undefined): void {
  if (value !== undefined) check.number(`${name} (microseconds)`, value, 0, 1e7);
}

/** The largest domain mapping: 4 GiB, what every runtime's ArrayBuffer can view. */
const MAPPING_MAX = 2 ** 32;

/** The option words of `xio_open`, every number checked first (see _check.ts). */
function openWords(options: DomainOptions): Uint32Array {
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
  words[Opt.runtime] = runtime.name === "deno" ? 1 : 2;
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

type Waiter = () => void;

/** Per-domain state shared by the public classes of this module. Not exported. */
class Core implements wake.Wakeable {
  readonly sym: NativeSymbols;
  readonly handle: Handle;
  readonly name: string;
  readonly io: Uint32Array;
  readonly events: Uint32Array;
  readonly memory: ArrayBuffer;
  readonly stats = new Float64Array(Stat.words);
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
  readonly waitingChannels = new Set<Channel>();
  /** This node's slot, as u32 words: its news flags are read here without a native call. */
  readonly #node: Uint32Array;

  constructor(sym: NativeSymbols, handle: Handle, options: DomainOptions) {
    this.sym = sym;
    this.handle = handle;
    this.name = options.name;
    this.poll = options.poll ?? "event";
    this.spinMs = (options.spinMicros ?? 50) / 1000;
    this.pollMs = (options.pollMicros ?? DEFAULT_POLL_MICROS) / 1000;
    this.io = new Uint32Array(runtime.arrayBuffer(sym.xio_io(handle), Const.ioWords * 4));
    this.events = new Uint32Array(runtime.arrayBuffer(sym.xio_events(handle), Const.eventsMax * 4));
    sym.xio_stats(handle, this.stats, Stat.words);
    const s = this.stats;
    this.memory = runtime.arrayBuffer(sym.xio_base(handle), s[Stat.size]);
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
      runtime.onExit(closeAllAtExit);
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
    for (const channel of [...this.waitingChannels]) wakeChannel(channel);
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
      buffer = createBuffer(this, id, this.classOffset[cls] + index * size, size);
      list[index] = buffer;
    }
    own(buffer, length);
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
    if (code === Status.tooBig) {
      const largest = this.classSize[this.classSize.length - 1];
      return new MessageTooLargeError(
        `Cannot allocate ${size} bytes: the largest buffer class of domain "${this.name}" holds ${largest}`,
      );
    }
    return new XioError(`Cannot allocate ${size} bytes: status ${code}`, "EIO");
  }

  release(buffer: SharedBuffer): void {
    const code = this.sym.xio_release(this.handle, buffer.id);
    disown(buffer);
    if (code !== 0) throw new BufferStateError(`Buffer ${buffer.id} was not held by this process`);
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
      if (client !== undefined) wakeChannel(client);
      const server = this.servers[index];
      if (server !== undefined) wakeChannel(server);
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
    const channel = createChannel(
      this,
      index,
      SIDE_SERVER,
      listenerService(listener),
      listenerPoll(listener),
    );
    this.servers[index] = channel;
    listenerPush(listener, channel);
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
    for (const list of this.buffers) for (const buffer of list) if (buffer) disown(buffer);
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
    if (length < 0) throw new Error(`status ${length}`);
    path = new TextDecoder().decode(scratch.subarray(0, length));
    return runtime.listenDoorbell(path, options.mode ?? 0o600, {
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

let own: (buffer: SharedBuffer, length: number) => void;
let disown: (buffer: SharedBuffer) => void;
let createBuffer: (core: Core, id: number, offset: number, capacity: number) => SharedBuffer;
let coreOf: (buffer: SharedBuffer) => Core;

/**
 * A fixed-size block of a domain's shared memory. You get one from `alloc` or `recv`; while you
 * hold it, {@linkcode SharedBuffer.bytes} views its first {@linkcode SharedBuffer.length} bytes
 * in place. Sending it, or calling {@linkcode SharedBuffer.release}, gives it up: any later use
 * throws {@linkcode BufferStateError}.
 *
 * Buffer objects are pooled (one per slot of shared memory), so the hot path allocates no JS
 * objects. A reference kept after giving a buffer up may come back to life if this process is
 * handed the same slot again; do not keep such references.
 */
export class SharedBuffer {
  /** The buffer's id in its domain: size class in the top 8 bits, index below. */
  readonly id: number;
  /** The buffer's size in bytes. */
  readonly capacity: number;
  /** The buffer's byte offset in the domain mapping: the same in every process. */
  readonly offset: number;
  #core: Core;
  #full: Uint8Array;
  #view: Uint8Array;
  #length = 0;
  #owned = false;

  static {
    own = (buffer, length) => {
      buffer.#owned = true;
      buffer.#length = length;
    };
    disown = (buffer) => {
      buffer.#owned = false;
    };
    createBuffer = (core, id, offset, capacity) => new SharedBuffer(core, id, offset, capacity);
    coreOf = (buffer) => buffer.#core;
  }

  private constructor(core: Core, id: number, offset: number, capacity: number) {
    this.#core = core;
    this.id = id;
    this.offset = offset;
    this.capacity = capacity;
    this.#full = new Uint8Array(core.memory, offset, capacity);
    this.#view = this.#full;
  }

  /** Whether this process holds the buffer. */
  get owned(): boolean {
    return this.#owned;
  }

  /** The message length: what `bytes` shows and what `send` sends. At most `capacity`. */
  get length(): number {
    this.#check();
    return this.#length;
  }

  set length(value: number) {
    this.#check();
    this.#length = check.integer("A buffer's length", value, 0, this.capacity);
  }

  /** The message bytes, in shared memory. Writes go straight to the buffer. */
  get bytes(): Uint8Array {
    this.#check();
    if (this.#view.length !== this.#length) this.#view = this.#full.subarray(0, this.#length);
    return this.#view;
  }

  /**
   * The whole buffer (`capacity` bytes, not just the message), in shared memory: always the
   * same view, so reading through it allocates nothing, whatever the message length.
   */
  get capacityBytes(): Uint8Array {
    this.#check();
    return this.#full;
  }

  /**
   * Copies bytes of the message, starting at `from`, into `target`; returns how many (at most
   * `target.length`). Uses memcpy, which is faster than `target.set(bytes)` in some engines.
   */
  copyTo(target: Uint8Array, from = 0): number {
    this.#check();
    check.bytes("copyTo's target", target);
    check.integer("copyTo's offset", from, 0, this.capacity);
    const n = Math.min(this.#length - from, target.length);
    if (n <= 0) return 0;
    if (n < COPY_NATIVE_MIN) {
      target.set(this.#full.subarray(from, from + n));
      return n;
    }
    const core = this.#core;
    core.sym.xio_copy_out(core.handle, this.id, from, target, n);
    return n;
  }

  /** Copies `source` into the buffer at `at` (default 0); the message length is not changed. */
  copyFrom(source: Uint8Array, at = 0): void {
    this.#check();
    check.bytes("copyFrom's source", source);
    check.integer("copyFrom's offset", at, 0, this.capacity);
    if (source.length > this.capacity - at) {
      throw new InvalidArgumentError(
        `${source.length} bytes at ${at} do not fit in a ${this.capacity}-byte buffer`,
      );
    }
    if (source.length < COPY_NATIVE_MIN) {
      this.#full.set(source, at);
      return;
    }
    const core = this.#core;
    core.sym.xio_copy_in(core.handle, this.id, at, source, source.length);
  }

  /** Gives the buffer back to its pool. */
  release(): void {
    this.#check();
    this.#core.release(this);
  }

  #check(): void {
    if (!this.#owned) {
      throw new BufferStateError(`Buffer ${this.id} was sent or released and can no longer be used`);
    }
  }
}

let createChannel: (
  core: Core,
  index: number,
  side: number,
  service: string,
  options: Required<ChannelOptions>,
) => Channel;

/** Options of {@linkcode Domain.listen} and {@linkcode Domain.connect}. */
export interface ChannelOptions {
  /** How a waiting receiver learns that data arrived (default: the domain's). */
  poll?: PollMode;
  /**
   * The longest an `"event"` channel polls for news it expects soon, in microseconds (default:
   * the domain's, {@linkcode DEFAULT_POLL_MICROS}; 0 never polls).
   */
  pollMicros?: number;
}

function channelOptions(core: Core, options: ChannelOptions): Required<ChannelOptions> {
  checkMicros("pollMicros", options.pollMicros);
  return { poll: options.poll ?? core.poll, pollMicros: options.pollMicros ?? core.pollMs * 1000 };
}

/** A pending `recv()`. */
interface Receiver {
  resolve: (message: SharedBuffer | null) => void;
  reject: (error: unknown) => void;
}

/** Bytes per cache-line pair of a ring header (layout.zig, `RingHeader`). */
const RING_LINE_BYTES = Const.ringLineBytes;
/** The f64 word of a ring header that holds `notified_at` (layout.zig, `RingHeader`). */
const NOTIFIED_AT = Const.ringNotifiedAtOffset / 8;
/** How long a sender waiting for room in its ring polls before it parks, in ms. */
const ROOM_POLL_MS = 0.2;
/** The first poll for an answer, before a channel has learned how soon its answers come, in ms. */
const FIRST_REPLY_POLL_MS = 0.2;
/** The longest an event channel polls for news it did not ask for (no send since), in ms. */
const IDLE_POLL_MAX_MS = 0.1;
/** Polling lasts twice the expected wait, plus this margin, in ms. */
const POLL_SLACK_MS = 0.02;
let wakeChannel: (channel: Channel) => void;

/**
 * One end of a connection: a pair of lock-free rings in shared memory. Messages are
 * {@linkcode SharedBuffer}s; sending moves ownership, so nothing is copied. A channel is an
 * async iterable of the messages it receives.
 *
 * Non-blocking calls (`tryRecv`, `trySend`, `tryAlloc` and their bulk forms) never allocate JS
 * objects; use them for the hot path. The async forms wait with backpressure.
 */
export class Channel implements AsyncIterable<SharedBuffer>, Disposable {
  /** The service this channel connects to. */
  readonly service: string;
  /** `"client"` for the side that connected, `"server"` for the side that accepted. */
  readonly side: "client" | "server";
  /** How a waiting receiver learns that data arrived. */
  readonly poll: PollMode;
  /** The channel slot index in the domain (the same on both sides). */
  readonly index: number;
  #core: Core;
  #side: number;
  #waiters: Waiter[] = [];
  #closed = false;
  #refed = true;
  #holding = false;
  #waiting = false;
  #failure: Error | undefined;
  #spinMs: number;
  #polite = false;
  // What the channel learns, to poll only while polling pays (see `#pollWindow`).
  /** The cap on a poll window in ms; 0 never polls (and outside event mode). */
  #pollMs: number;
  /** Whether this side sent since it last received: its next wait is for an answer. */
  #sentSinceRecv = false;
  /** Whether this side's last send rang the peer's doorbell (the peer was asleep). */
  #rang = false;
  /** Pending `recv()` calls, served in order. */
  #receivers: Receiver[] = [];
  /** How long answers took to arrive after a send, in ns (moving average; -1: unknown). */
  #replyNs = -1;
  /** How long news took to arrive when none was asked for, in ns (moving average; -1: unknown). */
  #idleNs = -1;
  /** Whether the current wait is for an answer (this side had sent). */
  #expectReply = false;
  /** When the current wait began (CLOCK_MONOTONIC ns), or -1 when nothing is to be learned. */
  #waitFromNs = -1;
  /** The receive ring's header, as u32 words: [0] its tail (producer), [32] its head (consumer). */
  #ring: Uint32Array;
  /** The same header as f64 words: [34] when the peer last woke this side (see `RingHeader`). */
  #timing: Float64Array;
  /** This channel's receive as the poller sees it while it polls the ring unarmed. */
  #polled: wake.PolledReceiver;

  static {
    createChannel = (core, index, side, service, options) => new Channel(core, index, side, service, options);
    wakeChannel = (channel) => {
      if (channel.#receivers.length > 0) channel.#deliver();
      const list = channel.#waiters;
      if (list.length > 0) {
        channel.#waiters = [];
        for (const wake of list) wake();
      }
      channel.#hold();
    };
  }

  private constructor(
    core: Core,
    index: number,
    side: number,
    service: string,
    options: Required<ChannelOptions>,
  ) {
    this.#core = core;
    this.index = index;
    this.#side = side;
    this.side = side === SIDE_CLIENT ? "client" : "server";
    this.service = service;
    const poll = options.poll;
    this.poll = poll;
    this.#spinMs = poll === "spin" ? 1 : poll === "adaptive" ? core.spinMs : 0;
    // Every mode polls for news it expects soon before it parks; adaptive and spin spin first.
    this.#pollMs = options.pollMicros / 1000;
    const ring = core.sym.xio_ring_offset(core.handle, index, 1 - side);
    this.#ring = new Uint32Array(core.memory, ring, (3 * RING_LINE_BYTES) / 4);
    this.#timing = new Float64Array(core.memory, ring, (3 * RING_LINE_BYTES) / 8);
    const waiting = () => this.#receivers.length > 0 && !this.#closed;
    this.#polled = {
      handle: core,
      get waiting() {
        return waiting();
      },
      ready: () => Atomics.load(this.#ring, 0) !== Atomics.load(this.#ring, RING_LINE_BYTES / 4),
      deliver: () => wakeChannel(this),
      arm: () => {
        const ready = core.sym.xio_arm_recv(core.handle, this.index, this.#side);
        if (ready !== 0) wakeChannel(this);
        else wake.waiting(core);
      },
    };
  }

  /** Whether `close()` was called (or the domain closed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Allocates a buffer of `size` bytes, waiting while the pool is empty. */
  alloc(size: number): Promise<SharedBuffer> {
    return this.#core.alloc(size);
  }

  /** Allocates a buffer of `size` bytes, or returns `undefined` if the pool is empty. */
  tryAlloc(size: number): SharedBuffer | undefined {
    return this.#core.tryAlloc(size);
  }

  /**
   * Allocates up to `count` buffers of `size` bytes into `out` (which grows as needed) without
   * waiting. Returns how many it allocated (0 when the pool is empty).
   */
  tryAllocMany(size: number, out: SharedBuffer[], count: number = BATCH_MAX): number {
    const core = this.#core;
    core.assertOpen();
    check.integer("An allocation's size", size, 0, check.U32_MAX);
    check.integer("tryAllocMany's count", count, 0, 2 ** 31);
    let done = 0;
    while (done < count) {
      const n = core.sym.xio_alloc_many(core.handle, size, Math.min(count - done, BATCH_MAX));
      if (n === Status.wouldBlock) break;
      if (n < 0) throw core.allocError(n, size);
      for (let i = 0; i < n; i++) out[done + i] = core.adopt(core.io[2 + 2 * i], size);
      done += n;
    }
    return done;
  }

  /**
   * Sends `buffer` to the peer, waiting while the ring is full. The buffer is no longer usable
   * afterwards. Sending a buffer received on another channel forwards it without a copy.
   */
  async send(buffer: SharedBuffer): Promise<void> {
    if (this.trySend(buffer)) return;
    if (this.#spinMs > 0 && this.#spinSend(buffer)) return;
    while (!this.trySend(buffer)) await this.#wait(false);
  }

  /** Sends `buffer` if the ring has room; returns false (keeping the buffer) if it is full. */
  trySend(buffer: SharedBuffer): boolean {
    const core = this.#core;
    this.#checkSendable(buffer);
    const code = core.sym.xio_send(core.handle, this.index, this.#side, buffer.id, buffer.length);
    if (code >= 0) {
      disown(buffer);
      this.#sentSinceRecv = true;
      this.#rang = code === 1;
      if (this.#receivers.length > 0) this.#answerDue();
      return true;
    }
    if (code === Status.wouldBlock) return false;
    throw this.#error(code);
  }

  /**
   * Sends `buffers[0..count)` as far as the ring has room, with one native call per 256. Returns
   * how many were sent; those are no longer usable.
   */
  trySendMany(buffers: readonly SharedBuffer[], count: number = buffers.length): number {
    check.integer("trySendMany's count", count, 0, buffers.length);
    const core = this.#core;
    const io = core.io;
    let done = 0;
    while (done < count) {
      const n = Math.min(count - done, BATCH_MAX);
      for (let i = 0; i < n; i++) {
        const buffer = buffers[done + i];
        this.#checkSendable(buffer);
        io[2 + 2 * i] = buffer.id;
        io[3 + 2 * i] = buffer.length;
      }
      const sent = core.sym.xio_send_many(core.handle, this.index, this.#side, n);
      if (sent === Status.wouldBlock) break;
      if (sent < 0) throw this.#error(sent);
      for (let i = 0; i < sent; i++) disown(buffers[done + i]);
      done += sent;
      if (sent < n) break;
    }
    if (done > 0) {
      this.#sentSinceRecv = true;
      if (this.#receivers.length > 0) this.#answerDue();
    }
    return done;
  }

  /**
   * Receives the next message, waiting for one. Resolves to `null` once the peer has closed its
   * sending side and every message before that was received.
   */
  recv(): Promise<SharedBuffer | null> {
    try {
      if (this.#closed) throw this.#closedError();
      // Behind earlier waiting calls, in order.
      if (this.#receivers.length > 0) return this.#enqueue();
      if (this.#spinMs > 0) {
        const message = this.tryRecv() ?? this.#spin();
        if (message !== undefined) return Promise.resolve(message);
      }
      return this.#receiveOrWait();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * One native call receives a message or, if none is ready, arms the ring and parks the process
   * (unless it is to poll): on the path of a process woken from idle every call costs
   * microseconds, so this path makes as few as it can.
   */
  #receiveOrWait(): Promise<SharedBuffer | null> {
    const core = this.#core;
    const reply = this.#sentSinceRecv;
    const window = this.#pollWindow(reply);
    if (window > 0) {
      // Poll the ring itself, unarmed: the peer's sends then cost it no notification.
      const message = this.tryRecv();
      if (message !== undefined) return Promise.resolve(message);
      this.#beginWait(reply);
      const waiting = this.#enqueue();
      // An answer from a peer that this side's last send woke (it rang its doorbell) is taken
      // before the event loop runs, as the peer usually runs on this very core meanwhile; the
      // poller takes the rest.
      if (!(reply && this.#rang && wake.pollNow(this.#polled))) {
        wake.pollRing(this.#polled, performance.now() + window);
      }
      return waiting;
    }
    const park = !wake.pollerRunning() && !core.parked;
    const code = core.sym.xio_recv_wait(core.handle, this.index, this.#side, park ? 1 : 0);
    if (code >= 0) {
      this.#sentSinceRecv = false;
      return Promise.resolve(core.adopt(code, core.io[0]));
    }
    if (code === Status.closed) return Promise.resolve(null);
    if (code !== Status.wouldBlock) throw this.#error(code);
    if (park) core.parked = true;
    this.#beginWait(reply);
    const waiting = this.#enqueue();
    if (core.io[1] !== 0) wake.rung(core); // news arrived as it parked
    return waiting;
  }

  /** A receive begins to wait: for an answer (`reply`), or for news unasked. */
  #beginWait(reply: boolean): void {
    this.#expectReply = reply;
    this.#waitFromNs = this.#pollMs > 0 ? this.#core.sym.xio_now_ns() : -1;
  }

  #enqueue(): Promise<SharedBuffer | null> {
    return new Promise((resolve, reject) => {
      this.#receivers.push({ resolve, reject });
      this.#hold();
    });
  }

  /** The channel has news: hands ready messages to waiting receivers, in order. */
  #deliver(): void {
    const core = this.#core;
    const receivers = this.#receivers;
    while (receivers.length > 0) {
      let message: SharedBuffer | null | undefined;
      try {
        message = this.tryRecv();
        if (message === undefined) {
          // Nothing yet (a spurious event): wait on, armed again.
          const ready = core.sym.xio_arm_recv(core.handle, this.index, this.#side);
          if (ready !== 0) continue; // ready, or an error that tryRecv reports
          return;
        }
      } catch (error) {
        for (const receiver of receivers.splice(0)) receiver.reject(error);
        return;
      }
      if (message === null) {
        for (const receiver of receivers.splice(0)) receiver.resolve(null);
        return;
      }
      this.#learn();
      receivers.shift()!.resolve(message);
    }
  }

  /**
   * Receives a message if one is ready: a buffer, `undefined` if none is ready yet, or `null`
   * once the peer has closed its sending side and everything was received.
   */
  tryRecv(): SharedBuffer | null | undefined {
    const core = this.#core;
    if (this.#closed) throw this.#closedError();
    const id = core.sym.xio_recv(core.handle, this.index, this.#side);
    if (id >= 0) {
      this.#sentSinceRecv = false;
      return core.adopt(id, core.io[0]);
    }
    if (id === Status.wouldBlock) return undefined;
    if (id === Status.closed) return null;
    throw this.#error(id);
  }

  /**
   * Receives up to `max` ready messages into `out` (which grows as needed) without waiting.
   * Returns how many (0 if none is ready), or `null` once the peer has closed its sending side
   * and everything was received.
   */
  tryRecvMany(out: SharedBuffer[], max: number = BATCH_MAX): number | null {
    check.integer("tryRecvMany's max", max, 0, 2 ** 31);
    const core = this.#core;
    if (this.#closed) throw this.#closedError();
    const io = core.io;
    let done = 0;
    while (done < max) {
      const n = core.sym.xio_recv_many(core.handle, this.index, this.#side, Math.min(max - done, BATCH_MAX));
      if (n === Status.wouldBlock) break;
      if (n === Status.closed) return done > 0 ? done : null;
      if (n < 0) throw this.#error(n);
      for (let i = 0; i < n; i++) out[done + i] = core.adopt(io[2 + 2 * i], io[3 + 2 * i]);
      done += n;
    }
    if (done > 0) this.#sentSinceRecv = false;
    return done;
  }

  /** Gives `buffers[0..count)` back to the pool with one native call per 256. */
  releaseMany(buffers: readonly SharedBuffer[], count: number = buffers.length): void {
    check.integer("releaseMany's count", count, 0, buffers.length);
    const core = this.#core;
    const io = core.io;
    for (let done = 0; done < count;) {
      const n = Math.min(count - done, BATCH_MAX);
      for (let i = 0; i < n; i++) {
        const buffer = buffers[done + i];
        if (!buffer.owned) throw new BufferStateError(`Buffer ${buffer.id} was already sent or released`);
        io[2 + 2 * i] = buffer.id;
      }
      core.sym.xio_release_many(core.handle, n);
      for (let i = 0; i < n; i++) disown(buffers[done + i]);
      done += n;
    }
  }

  /** Messages sent on this channel that the peer has not received yet. */
  unreceived(): number {
    const core = this.#core;
    if (this.#closed) throw this.#closedError();
    const count = core.sym.xio_pending(core.handle, this.index, this.#side);
    if (count < 0) throw this.#error(count);
    return count;
  }

  /**
   * Waits until fewer than `max` sent messages are still unreceived: flow control for a sender
   * that should not run far ahead of its reader. Rejects if the channel is reset or closed.
   */
  async waitUnreceived(max: number): Promise<void> {
    check.integer("waitUnreceived's max", max, 1, 2 ** 31);
    if (this.unreceived() < max) return;
    if (this.#spinMs > 0) {
      const start = this.#spinStart();
      for (let i = 1; this.#pace(i, start); i++) {
        if (this.unreceived() < max) return;
      }
    }
    while (this.unreceived() >= max) {
      this.#checkPeer();
      await this.#wait(false, max);
    }
  }

  /** Lets the process exit while this channel waits (by default a wait keeps it alive). */
  unref(): void {
    this.#refed = false;
    this.#hold();
  }

  /** Undoes {@linkcode Channel.unref}: waits keep the process alive again. */
  ref(): void {
    this.#refed = true;
    this.#hold();
  }

  /** Half-closes the channel: the peer receives `null` after the messages already sent. */
  closeWrite(): void {
    if (this.#closed) throw this.#closedError();
    const core = this.#core;
    core.sym.xio_close_write(core.handle, this.index, this.#side);
  }

  /**
   * Closes this side. Messages not yet received are returned to the pool; the peer receives
   * `null` after the messages already sent. Safe to call twice.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const core = this.#core;
    core.sym.xio_chan_close(core.handle, this.index, this.#side);
    const table = this.#side === SIDE_CLIENT ? core.clients : core.servers;
    if (table[this.index] === this) table[this.index] = undefined;
    wakeChannel(this);
  }

  /** Closes the channel. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Yields each received message until the peer closes (or this side is closed). Release (or
   * forward) each one. A reset or corrupt channel throws.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<SharedBuffer> {
    for (;;) {
      let message: SharedBuffer | null;
      try {
        message = await this.recv();
      } catch (error) {
        if (this.#closed && this.#failure === undefined && error instanceof ClosedError) return;
        throw error;
      }
      if (message === null) return;
      yield message;
    }
  }

  /**
   * Busy-polls for a message for up to the spin window. After POLITE_AFTER_MS without one it
   * yields the core between tries, so that a spinning process does not starve the very peer it
   * waits for when processes outnumber cores.
   */
  #spin(): SharedBuffer | null | undefined {
    const start = this.#spinStart();
    for (let i = 1; this.#pace(i, start); i++) {
      const message = this.tryRecv();
      if (message !== undefined) return message;
    }
    return undefined;
  }

  /** Busy-polls for room in the ring, as `#spin` polls for a message. */
  #spinSend(buffer: SharedBuffer): boolean {
    const start = this.#spinStart();
    for (let i = 1; this.#pace(i, start); i++) {
      if (this.trySend(buffer)) return true;
    }
    return false;
  }

  /** Begins a busy-poll: full speed at first. Returns its start time. */
  #spinStart(): number {
    this.#polite = false;
    return performance.now();
  }

  /**
   * Paces the `i`-th try of a busy-poll begun at `start`: false once the spin window is over.
   * After POLITE_AFTER_MS it yields the core before each try; the clock is read every 64 tries.
   */
  #pace(i: number, start: number): boolean {
    if (this.#polite) this.#core.sym.xio_yield();
    if ((i & 63) !== 0) return true;
    const now = performance.now();
    this.#polite = now >= start + POLITE_AFTER_MS;
    return now < start + this.#spinMs;
  }

  #wait(receiving: boolean, window = 0): Promise<void> {
    const core = this.#core;
    if (this.#closed) return Promise.reject(this.#closedError());
    const ready = receiving
      ? core.sym.xio_arm_recv(core.handle, this.index, this.#side)
      : core.sym.xio_arm_send(core.handle, this.index, this.#side, window);
    // Ready, or an error that the retry will report.
    if (ready !== 0) return Promise.resolve();
    core.assertOpen();
    // Room in a ring comes back as soon as the peer reads, which it is busy doing: poll a
    // little before sleeping (the peer notifies, since the ring is armed; the poller sees it).
    if (!receiving && this.#pollMs > 0) {
      wake.pollUntilTime(performance.now() + Math.min(this.#pollMs, ROOM_POLL_MS));
    }
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#hold();
    });
  }

  /**
   * How long a receive that is about to wait should poll first, in ms (0: sleep at once): for as
   * long as news is likely to come sooner than a wake-up would. `reply`: this side has just sent,
   * so an answer is due; otherwise the news would come unasked. Each kind has its own learned
   * wait (`#learn`), and a channel polls only while that wait fits in its cap, for twice the
   * wait plus a margin, so that polling pays for itself: a paced client whose answers come
   * within a few hundred microseconds polls for them, and a service whose requests come a
   * millisecond apart sleeps between them.
   */
  #pollWindow(reply: boolean): number {
    if (this.#pollMs <= 0) return 0;
    const estimate = reply ? this.#replyNs : this.#idleNs;
    if (estimate < 0) return reply ? Math.min(this.#pollMs, FIRST_REPLY_POLL_MS) : 0;
    const cap = reply ? this.#pollMs : Math.min(this.#pollMs, IDLE_POLL_MAX_MS);
    const expected = estimate / 1e6;
    return expected <= cap ? Math.min(cap, 2 * expected + POLL_SLACK_MS) : 0;
  }

  /** This side sent while a receive waits: an answer is due from now, so poll for it. */
  #answerDue(): void {
    this.#expectReply = true;
    if (this.#waitFromNs >= 0) this.#waitFromNs = this.#core.sym.xio_now_ns();
    const window = this.#pollWindow(true);
    if (window > 0) wake.pollUntilTime(performance.now() + window);
  }

  /**
   * A receive that waited got its message: learn how long the news took to arrive, from the
   * stamps in the ring's header (when the wait began, when the peer's message woke it), so that a
   * late wake-up on this side does not make the wait look longer than it was.
   */
  #learn(): void {
    const from = this.#waitFromNs;
    if (from < 0) return;
    this.#waitFromNs = -1;
    const now = this.#core.sym.xio_now_ns();
    // A peer that woke this side stamped when; a message found by polling arrived just now.
    const notified = this.#timing[NOTIFIED_AT];
    const sample = (notified >= from && notified <= now ? notified : now) - from;
    if (!(sample >= 0 && sample < 1e9)) return;
    if (this.#expectReply) {
      this.#replyNs = this.#replyNs < 0 ? sample : this.#replyNs + (sample - this.#replyNs) / 4;
    } else this.#idleNs = this.#idleNs < 0 ? sample : this.#idleNs + (sample - this.#idleNs) / 4;
  }

  /** Holds the process open while this channel has waiters, unless unref'd. */
  #hold(): void {
    const waits = this.#waiters.length > 0 || this.#receivers.length > 0;
    const want = this.#refed && waits;
    if (want !== this.#holding) {
      this.#holding = want;
      if (want) wake.hold();
      else wake.unhold();
    }
    if (waits !== this.#waiting) {
      this.#waiting = waits;
      if (waits) {
        this.#core.waitingChannels.add(this);
        this.#core.waitBegan();
      } else {
        this.#core.waitingChannels.delete(this);
        this.#core.waitEnded();
      }
    }
  }

  /** Throws if the peer died or closed, as a send would. */
  #checkPeer(): void {
    const core = this.#core;
    const flags = core.sym.xio_flags(core.handle, this.index, this.#side);
    if (flags < 0) throw this.#error(flags);
    if ((flags & Flag.reset) !== 0) throw this.#error(Status.reset);
    const peerGone = this.#side === SIDE_CLIENT ? Flag.serverGone : Flag.clientGone;
    if ((flags & peerGone) !== 0) throw this.#error(Status.pipe);
  }

  #checkSendable(buffer: SharedBuffer): void {
    if (this.#closed) throw this.#closedError();
    if (!buffer.owned) throw new BufferStateError(`Buffer ${buffer.id} was already sent or released`);
    if (coreOf(buffer) !== this.#core) {
      throw new BufferStateError(`Buffer ${buffer.id} belongs to another domain handle`);
    }
  }

  #closedError(): Error {
    // After a reset, every later call reports the reset, not just the first one.
    return this.#failure ?? new ClosedError(`Channel ${this.index} to "${this.service}" is closed`);
  }

  #error(code: number): Error {
    const core = this.#core;
    const where = `channel ${this.index} to "${this.service}"`;
    switch (code) {
      case Status.reset:
      case Status.corrupt: {
        const flags = core.sym.xio_flags(core.handle, this.index, this.#side);
        this.#failure = code === Status.corrupt || (flags >= 0 && (flags & Flag.corrupt) !== 0)
          ? new CorruptDescriptorError(
            `The shared state of ${where} failed validation (a descriptor, a ring index or the slot ` +
              `itself was corrupted); the channel is closed`,
          )
          : new ConnectionResetError(`The peer of ${where} died; the channel is reset`);
        this.close();
        return this.#failure;
      }
      case Status.pipe:
        return new BrokenPipeError(`The peer of ${where} closed it`);
      case Status.state:
        return new ClosedError(`Cannot send on ${where}: its sending side was closed with closeWrite()`);
      case Status.invalid:
        return new BufferStateError(`The buffer was not held by this process (${where})`);
      default:
        return new XioError(`Unexpected status ${code} on ${where}`, "EIO");
    }
  }
}

let listenerPush: (listener: Listener, channel: Channel) => void;
let listenerService: (listener: Listener) => string;
let listenerPoll: (listener: Listener) => Required<ChannelOptions>;
let createListener: (
  core: Core,
  index: number,
  service: string,
  poll: Required<ChannelOptions>,
) => Listener;

/** Accepts the channels that clients open to a service. Iterate it, or call `accept()`. */
export class Listener implements AsyncIterable<Channel>, Disposable {
  /** The service name. */
  readonly service: string;
  #core: Core;
  #index: number;
  #poll: Required<ChannelOptions>;
  #queue: Channel[] = [];
  #waiters: { resolve: (channel: Channel) => void; reject: (error: Error) => void }[] = [];
  #closed = false;
  #refed = true;

  static {
    listenerPush = (listener, channel) => {
      const waiter = listener.#waiters.shift();
      if (waiter !== undefined) waiter.resolve(channel);
      else listener.#queue.push(channel);
    };
    listenerService = (listener) => listener.service;
    listenerPoll = (listener) => listener.#poll;
    createListener = (core, index, service, poll) => new Listener(core, index, service, poll);
  }

  private constructor(core: Core, index: number, service: string, poll: Required<ChannelOptions>) {
    this.#core = core;
    this.#index = index;
    this.service = service;
    this.#poll = poll;
  }

  /** Waits for the next connection. Rejects with {@linkcode ClosedError} once closed. */
  accept(): Promise<Channel> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    this.#core.drain();
    const drained = this.#queue.shift();
    if (drained !== undefined) return Promise.resolve(drained);
    return new Promise((resolve, reject) => {
      const refed = this.#refed;
      const core = this.#core;
      this.#waiters.push({
        resolve: (channel) => {
          core.waitEnded();
          if (refed) wake.unhold();
          resolve(channel);
        },
        reject: (error) => {
          core.waitEnded();
          if (refed) wake.unhold();
          reject(error);
        },
      });
      if (refed) wake.hold();
      core.waitBegan();
    });
  }

  /** Lets the process exit while `accept()` waits (by default a pending accept keeps it alive). */
  unref(): void {
    this.#refed = false;
  }

  /** Undoes {@linkcode Listener.unref}. */
  ref(): void {
    this.#refed = true;
  }

  /** Stops listening. Pending `accept()` calls reject; queued connections are closed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const core = this.#core;
    core.sym.xio_unlisten(core.handle, this.#index);
    core.listeners[this.#index] = undefined;
    for (const channel of this.#queue) channel.close();
    this.#queue = [];
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(this.#closedError());
  }

  /** Stops listening. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Yields each accepted channel until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Channel> {
    while (!this.#closed) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof ClosedError && this.#closed) return;
        throw error;
      }
    }
  }

  #closedError(): ClosedError {
    return new ClosedError(`Listener on "${this.service}" is closed`);
  }
}

/**
 * A handle on a shared-memory domain: this process's node in it. Open one per process and
 * close it when done (or use `using`), so that peers see a clean end of stream.
 */
export class Domain implements Disposable {
  /** The domain name. */
  readonly name: string;
  #core: Core;

  private constructor(core: Core) {
    this.#core = core;
    this.name = core.name;
  }

  /**
   * Creates the domain, or attaches to it if it exists. Throws {@linkcode DomainError} for a
   * file that is not a domain, is truncated, has another layout version or cannot be created.
   */
  static open(options: DomainOptions): Domain {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("Domain.open takes an options object with a name");
    }
    const name = checkName("domain", options.name);
    checkMicros("spinMicros", options.spinMicros);
    checkMicros("pollMicros", options.pollMicros);
    if (options.dir !== undefined && typeof options.dir !== "string") {
      throw new InvalidArgumentError(`Domain.open: dir must be a string`);
    }
    const words = openWords(options);
    const sym = native();
    const dir = options.dir === undefined ? EMPTY : encoder.encode(options.dir);
    const status = new Int32Array(2);
    const handle = sym.xio_open(name, name.length, dir, dir.length, words, status);
    if (!handle) throw openError(options.name, status[0], status[1]);
    // The Core closes the handle itself if it cannot set up (its doorbell, say).
    return new Domain(new Core(sym, handle, options));
  }

  /** Registers `service` and returns its listener. Throws {@linkcode AddrInUseError} if taken. */
  listen(service: string, options: ChannelOptions = {}): Listener {
    const core = this.#core;
    core.assertOpen();
    const name = checkName("service", service);
    const index = core.sym.xio_listen(core.handle, name, name.length);
    if (index === Status.inUse) throw new AddrInUseError(`Service "${service}" already has a listener`);
    if (index === Status.full) throw new CapacityError(`Domain "${this.name}" has no free service slot`);
    if (index < 0) throw new XioError(`Cannot listen on "${service}": status ${index}`, "EIO");
    const listener = createListener(core, index, service, channelOptions(core, options));
    core.listeners[index] = listener;
    return listener;
  }

  /**
   * Opens a channel to `service`. Rejects at once with {@linkcode ConnectionRefusedError} if
   * nobody listens on it.
   */
  connect(service: string, options: ChannelOptions = {}): Promise<Channel> {
    try {
      return Promise.resolve(this.connectSync(service, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Like {@linkcode Domain.connect}, but returns the channel directly. */
  connectSync(service: string, options: ChannelOptions = {}): Channel {
    const core = this.#core;
    core.assertOpen();
    const name = checkName("service", service);
    const index = core.sym.xio_connect(core.handle, name, name.length);
    if (index === Status.refused) throw new ConnectionRefusedError(`Nobody listens on "${service}"`);
    if (index === Status.full) throw new CapacityError(`Domain "${this.name}" has no free channel slot`);
    if (index < 0) throw new XioError(`Cannot connect to "${service}": status ${index}`, "EIO");
    const channel = createChannel(core, index, SIDE_CLIENT, service, channelOptions(core, options));
    core.clients[index] = channel;
    return channel;
  }

  /** Allocates a buffer of `size` bytes, waiting while its pool is empty. */
  alloc(size: number): Promise<SharedBuffer> {
    return this.#core.alloc(size);
  }

  /** Allocates a buffer of `size` bytes, or returns `undefined` if its pool is empty. */
  tryAlloc(size: number): SharedBuffer | undefined {
    return this.#core.tryAlloc(size);
  }

  /** Checks the other processes now and reclaims what dead ones held. Returns how many died. */
  reclaimDead(): number {
    const core = this.#core;
    core.assertOpen();
    const reclaimed = core.sym.xio_probe(core.handle);
    core.drain();
    return reclaimed;
  }

  /** A snapshot of the domain: backing store, buffers free per class, nodes, channels. */
  stats(): DomainStats {
    const core = this.#core;
    core.assertOpen();
    const s = core.stats;
    core.sym.xio_stats(core.handle, s, Stat.words);
    const classes: ClassStats[] = [];
    for (let c = 0; c < s[Stat.classCount]; c++) {
      const at = Stat.class + Stat.classStride * c;
      classes.push({ size: s[at], total: s[at + 1], free: s[at + 2], allocations: s[at + 3] });
    }
    return {
      name: this.name,
      backing: BACKINGS[s[Stat.backing]] ?? "file",
      size: s[Stat.size],
      node: s[Stat.node],
      nodes: { active: s[Stat.nodes], max: s[Stat.nodeMax] },
      channels: { open: s[Stat.channels], max: s[Stat.channelMax], opened: s[Stat.channelsOpened] },
      services: { active: s[Stat.services], max: s[Stat.serviceMax] },
      classes,
      corruptDescriptors: s[Stat.corrupt],
      reclaimedNodes: s[Stat.reclaimed],
    };
  }

  /** Whether the domain handle is closed. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Leaves the domain: closes this process's channels and listeners (peers see end of stream)
   * and returns its buffers. The last process to leave removes the file. Safe to call twice.
   */
  close(): void {
    this.#core.close();
  }

  /** Closes the domain. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function openError(name: string, code: number, detail: number): Error {
  const what = `Cannot open domain "${name}"`;
  switch (code) {
    case Status.invalidName:
      return new InvalidNameError(`${what}: invalid name`);
    case Status.notDomain:
      return new DomainError(`${what}: the file exists but is not an xio domain`, "ENOTDOMAIN");
    case Status.version:
      return new DomainError(
        `${what}: layout version ${native().xio_version()} expected, found ${detail}`,
        "EVERSION",
      );
    case Status.truncated:
      return new DomainError(`${what}: the file is truncated`, "ETRUNCATED");
    case Status.layout:
      return new DomainError(`${what}: the header describes an impossible layout`, "ELAYOUT");
    case Status.notFound:
      return new DomainError(`${what}: it does not exist`, "ENOENT");
    case Status.invalidConfig:
      return new DomainError(
        `${what}: invalid sizes (channels must be a multiple of 64 up to 4096, ring capacity a ` +
          `power of two, classes ascending multiples of 64)`,
        "EINVAL",
      );
    case Status.noSpace:
      return new DomainError(`${what}: not enough shared memory for it`, "ENOSPC");
    case Status.permission:
      return new DomainError(`${what}: permission denied`, "EACCES");
    case Status.full:
      return new CapacityError(`${what}: all node slots are taken`);
    case Status.hugepagesUnavailable:
      return new DomainError(`${what}: huge pages were required but none are available`, "ENOHUGEPAGES");
    case Status.busy:
      return new DomainError(`${what}: the domain file is busy`, "EBUSY");
    case Status.notRegular:
      return new DomainError(
        `${what}: a symlink, directory, socket, FIFO or device is where its file (or its lock file or ` +
          `directory) should be`,
        "ENOTREG",
      );
    case Status.foreignOwner:
      return new DomainError(
        `${what}: its file, lock file or directory belongs to another user (or is open to others); ` +
          `a domain is a trust boundary, so it is joined only when its owner is trusted (the trust option)`,
        "EOWNER",
      );
    case Status.lockTimeout:
      return new DomainError(
        `${what}: another process held its lock for longer than lockTimeoutMs`,
        "ELOCKTIMEOUT",
      );
    case Status.pathTooLong:
      return new DomainError(
        `${what}: its directory's path is too long for the doorbell sockets (a socket address holds ` +
          `108 bytes with the file name)`,
        "ENAMETOOLONG",
      );
    default:
      return new DomainError(`${what}: status ${code}`, "EIO");
  }
}
