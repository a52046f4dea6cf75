// GENERATED from zig/src/abi.zig by zig/src/abi_gen.zig (`zig build abi`): do not edit.
/**
 * The ABI of libxio as data: the symbol table the loaders build their `dlopen` definitions
 * from, the status codes, option words, stats slots, flags and constants.
 *
 * @module
 */

/** The version of this ABI; the loaders refuse a library of another. */
export const ABI_VERSION = 5;

/** Every exported function: its parameter types and result type (see symbols.ts). */
export const symbols = {
  /** xio_version(): The layout version of domains this library makes. */
  xio_version: { parameters: [], result: "u32" },
  /** xio_abi_version(): The version of this ABI (abi.zig, `version`). */
  xio_abi_version: { parameters: [], result: "u32" },
  /** xio_open(name, name_len, dir, dir_len, options, status): Opens (or creates) and joins a domain. Null on failure, with the status in status[0] and a detail (such as the version found) in status[1]. */
  xio_open: { parameters: ["bytes", "u32", "bytes", "u32", "bytes", "bytes"], result: "handle" },
  /** xio_close(d): Leaves the domain and frees the handle. */
  xio_close: { parameters: ["handle"], result: "void" },
  /** xio_io(d): The handle's io array (Const.io_words words). */
  xio_io: { parameters: ["handle"], result: "pointer" },
  /** xio_events(d): The handle's events array (Const.events_max words). */
  xio_events: { parameters: ["handle"], result: "pointer" },
  /** xio_base(d): The base of the mapping. */
  xio_base: { parameters: ["handle"], result: "pointer" },
  /** xio_stats(d, out, len): Writes the Stat slots to out (len >= Stat.words). */
  xio_stats: { parameters: ["handle", "bytes", "u32"], result: "i32" },
  /** xio_listen(d, name, name_len): Registers a service; returns its index. */
  xio_listen: { parameters: ["handle", "bytes", "u32"], result: "i32" },
  /** xio_unlisten(d, service): Unregisters a service of this node. */
  xio_unlisten: { parameters: ["handle", "u32"], result: "i32" },
  /** xio_connect(d, name, name_len): Opens a channel to a service; returns its index (this node is side 0). */
  xio_connect: { parameters: ["handle", "bytes", "u32"], result: "i32" },
  /** xio_accept(d, chan): Accepts a new channel this node heard of; returns the service index. */
  xio_accept: { parameters: ["handle", "u32"], result: "i32" },
  /** xio_refuse(d, chan): Refuses a channel nobody listens for. */
  xio_refuse: { parameters: ["handle", "u32"], result: "void" },
  /** xio_send(d, chan, side, id, length): Sends one message: 1 if that rang the sleeping peer's doorbell, 0 if the peer was awake. */
  xio_send: { parameters: ["handle", "u32", "u32", "u32", "u32"], result: "i32" },
  /** xio_send_many(d, chan, side, count): Sends the (id, length) pairs at io[2..]; returns how many went. */
  xio_send_many: { parameters: ["handle", "u32", "u32", "u32"], result: "i32" },
  /** xio_recv(d, chan, side): Receives one message: its buffer id, its length in io[0]. */
  xio_recv: { parameters: ["handle", "u32", "u32"], result: "i32" },
  /** xio_recv_many(d, chan, side, max): Receives up to max messages as pairs at io[2..]; returns how many. */
  xio_recv_many: { parameters: ["handle", "u32", "u32", "u32"], result: "i32" },
  /** xio_recv_wait(d, chan, side, park): Receives one message, or arms the ring (and with park, parks the node): would_block then, with io[1] = 1 if news came meanwhile. */
  xio_recv_wait: { parameters: ["handle", "u32", "u32", "u32"], result: "i32" },
  /** xio_arm_recv(d, chan, side): Asks to be notified of the next message: 1 if one is there already. */
  xio_arm_recv: { parameters: ["handle", "u32", "u32"], result: "i32" },
  /** xio_arm_send(d, chan, side, window): Asks to be notified when fewer than window messages wait: 1 if so already. */
  xio_arm_send: { parameters: ["handle", "u32", "u32", "u32"], result: "i32" },
  /** xio_pending(d, chan, side): Messages this side sent that the peer has not received. */
  xio_pending: { parameters: ["handle", "u32", "u32"], result: "i32" },
  /** xio_flags(d, chan, side): The channel's Flag bits. */
  xio_flags: { parameters: ["handle", "u32", "u32"], result: "i32" },
  /** xio_close_write(d, chan, side): Half-closes this side. */
  xio_close_write: { parameters: ["handle", "u32", "u32"], result: "i32" },
  /** xio_chan_close(d, chan, side): Closes this side; the last side out frees the channel. */
  xio_chan_close: { parameters: ["handle", "u32", "u32"], result: "i32" },
  /** xio_alloc(d, size): Allocates a buffer of at least size bytes; returns its id. */
  xio_alloc: { parameters: ["handle", "u32"], result: "i32" },
  /** xio_alloc_many(d, size, count): Allocates up to count buffers; their ids go to io[2..] (one per pair). */
  xio_alloc_many: { parameters: ["handle", "u32", "u32"], result: "i32" },
  /** xio_release(d, id): Gives a held buffer back. */
  xio_release: { parameters: ["handle", "u32"], result: "i32" },
  /** xio_release_many(d, count): Gives back the ids at io[2], io[4], ...; returns how many were ours. */
  xio_release_many: { parameters: ["handle", "u32"], result: "i32" },
  /** xio_copy_out(d, id, from, target, length): Copies bytes of a held buffer out. */
  xio_copy_out: { parameters: ["handle", "u32", "u32", "bytes", "u32"], result: "i32" },
  /** xio_copy_in(d, id, at, source, length): Copies bytes into a held buffer. */
  xio_copy_in: { parameters: ["handle", "u32", "u32", "bytes", "u32"], result: "i32" },
  /** xio_arm_alloc(d, size): Asks to be notified when a buffer of that size is released. */
  xio_arm_alloc: { parameters: ["handle", "u32"], result: "i32" },
  /** xio_take_events(d): Moves pending events into the events array; returns how many. io[1] = 1 if a buffer waited for was released. */
  xio_take_events: { parameters: ["handle"], result: "i32" },
  /** xio_park(d): Parks this node (notifiers ring its doorbell); 1 if news already waits. */
  xio_park: { parameters: ["handle"], result: "i32" },
  /** xio_unpark(d): Clears this node's parked flag while it polls. */
  xio_unpark: { parameters: ["handle"], result: "void" },
  /** xio_has_events(d): 1 if this node has news. */
  xio_has_events: { parameters: ["handle"], result: "i32" },
  /** xio_bell_path(d, out, len): Writes the path of this node's doorbell socket; returns its length. */
  xio_bell_path: { parameters: ["handle", "bytes", "u32"], result: "i32" },
  /** xio_bell_ready(d): Tells notifiers that this node listens on its doorbell. */
  xio_bell_ready: { parameters: ["handle"], result: "void" },
  /** xio_kernel_check(errno_out): Tries the system calls the core needs (statx, OFD locks, shared futexes): 0 if all work, else which failed first (1 statx, 2 OFD locks, 3 futex) with its errno in errno_out[0]. */
  xio_kernel_check: { parameters: ["bytes"], result: "i32" },
  /** xio_now_ns(): CLOCK_MONOTONIC in nanoseconds. */
  xio_now_ns: { parameters: [], result: "f64" },
  /** xio_node_offset(d): The byte offset of this node's slot in the mapping. */
  xio_node_offset: { parameters: ["handle"], result: "f64" },
  /** xio_ring_offset(d, chan, direction): The byte offset of a ring's header in the mapping. */
  xio_ring_offset: { parameters: ["handle", "u32", "u32"], result: "f64" },
  /** xio_yield(): Gives the core to another runnable thread, if any (sched_yield). */
  xio_yield: { parameters: [], result: "void" },
  /** xio_probe(d): Checks the other nodes' liveness now; returns how many dead ones were reclaimed. */
  xio_probe: { parameters: ["handle"], result: "i32" },
  /** xio_inspect(path, path_len, status): Opens a domain file read-only, to inspect it: no node slot, no lock taken, nothing written. Null on failure, with the status in status[0] and a detail in status[1] (as xio_open). Only xio_snapshot and xio_close take the handle. */
  xio_inspect: { parameters: ["bytes", "u32", "bytes"], result: "handle" },
  /** xio_snapshot(d, out, len, names, names_len): Writes a snapshot (Snap and its records) to out and the service names to names; returns the words written, or invalid if either is too small, with the words needed in out[0] and the name bytes in out[1], or truncated if the file is shorter than its layout now. */
  xio_snapshot: { parameters: ["handle", "bytes", "u32", "bytes", "u32"], result: "i32" },
  /** xio_snapshot_words(d): The most words a snapshot of this domain takes. */
  xio_snapshot_words: { parameters: ["handle"], result: "i32" },
  /** xio_gc(name, name_len, dir, dir_len, options, dry_run, result): Collects domain name as xio_open would find it: removes its files if no live process holds it, else reclaims its dead nodes; with dry_run, only says what it would do. Writes a Gc code to result[0] and a count to result[1]; returns 0 or a status. */
  xio_gc: { parameters: ["bytes", "u32", "bytes", "u32", "bytes", "u32", "bytes"], result: "i32" },
  /** xio_domain_path(d, out, len): Writes the path of the domain file; returns its length. */
  xio_domain_path: { parameters: ["handle", "bytes", "u32"], result: "i32" },
  /** xio_debug_plant(d, chan, direction, high, low): Tests only: pushes a raw descriptor into a ring, as a hostile peer would. */
  xio_debug_plant: { parameters: ["handle", "u32", "u32", "u32", "u32"], result: "i32" },
} as const;

/** Status codes returned by the library (`XIO_E_*` in xio.h). */
export const Status = {
  /** success */
  ok: 0,
  /** nothing to do now: the ring is full or empty, or the pool is empty */
  wouldBlock: -1,
  /** the peer closed its sending side and everything was received */
  closed: -2,
  /** the peer died; the channel is reset */
  reset: -3,
  /** a descriptor, ring index or channel slot failed validation; the channel is poisoned */
  corrupt: -4,
  /** an argument that is not ours to use (a buffer we do not hold, a channel we are not on) */
  invalid: -5,
  /** larger than the largest buffer class */
  tooBig: -6,
  /** no such domain */
  notFound: -7,
  /** the service already has a listener */
  inUse: -8,
  /** no free slot (node, service or channel) */
  full: -9,
  /** the file is not an xio domain */
  notDomain: -10,
  /** the domain has another layout version (the detail word says which) */
  version: -11,
  /** the domain file is shorter than its layout */
  truncated: -12,
  /** the header describes an impossible layout */
  layout: -13,
  /** an unexpected system error */
  io: -14,
  /** not enough memory in the backing store */
  noSpace: -15,
  /** the domain file kept changing under the open */
  busy: -16,
  /** the peer closed the channel */
  pipe: -17,
  /** this side already closed its sending side */
  state: -18,
  /** permission denied */
  permission: -19,
  /** nobody listens on the service */
  refused: -20,
  /** a name outside the alphabet, empty or too long */
  invalidName: -21,
  /** sizes that no layout allows */
  invalidConfig: -22,
  /** huge pages were required but none are free */
  hugepagesUnavailable: -23,
  /** the directory is too long for doorbell socket addresses */
  pathTooLong: -24,
  /** a symlink, directory, socket, FIFO or device where a file should be */
  notRegular: -25,
  /** the file or directory belongs to an untrusted user */
  foreignOwner: -26,
  /** another process held a lock for longer than the timeout */
  lockTimeout: -27,
} as const;

/** Words of the `xio_open` options array. */
export const Opt = {
  /** bit 0: create the domain if it does not exist */
  flags: 0,
  /** 0 auto, 1 require, 2 never */
  hugepages: 1,
  /** the file mode of a created domain, such as 0600 */
  mode: 2,
  /** informational: 1 Deno, 2 Bun */
  runtime: 3,
  /** attached processes at most (1-256) */
  nodeMax: 4,
  /** services at most (1-4096) */
  serviceMax: 5,
  /** channels at most: a multiple of 64, at most 4096 */
  channelMax: 6,
  /** descriptors per ring: a power of two */
  ringCapacity: 7,
  /** buffer size classes (1-4) */
  classCount: 8,
  /** 4 words: bytes per buffer, ascending multiples of 64 */
  classSizes: 9,
  /** 4 words: buffers per class */
  classCounts: 13,
  /** the gid whose members share domains, or 0xffffffff for none */
  group: 17,
  /** the longest a lock wait lasts */
  lockTimeoutMs: 18,
  /** owners_max words: further trusted uids, or 0xffffffff */
  owners: 19,
  /** how many trusted uids the options hold */
  ownersMax: 4,
  /** the length of the options array */
  words: 23,
} as const;

/** Slots of the `xio_stats` array. */
export const Stat = {
  /** the layout version */
  version: 0,
  /** the mapping's size in bytes */
  size: 1,
  /** 1 hugetlbfs, 2 /dev/shm with THP, 3 /dev/shm, 4 plain file */
  backing: 2,
  /** this handle's node index */
  node: 3,
  /** node slots */
  nodeMax: 4,
  /** nodes attached now */
  nodes: 5,
  /** channel slots */
  channelMax: 6,
  /** channels open now */
  channels: 7,
  /** service slots */
  serviceMax: 8,
  /** services registered now */
  services: 9,
  /** descriptors per ring */
  ringCapacity: 10,
  /** buffer size classes */
  classCount: 11,
  /** descriptors that failed validation since creation */
  corrupt: 12,
  /** dead nodes reclaimed since creation */
  reclaimed: 13,
  /** channels opened since creation */
  channelsOpened: 14,
  /** the pid of the creator */
  creatorPid: 15,
  /** the first per-class slot: then per class size, count, free, allocations, data offset, 0 */
  class: 24,
  /** slots per class */
  classStride: 6,
  /** the length of the stats array */
  words: 48,
} as const;

/** Words of the header of an `xio_snapshot`. */
export const Snap = {
  /** the layout version */
  version: 0,
  /** the file's size in bytes */
  size: 1,
  /** 1 hugetlbfs, 2 /dev/shm with THP, 3 /dev/shm, 4 plain file */
  backing: 2,
  /** node slots */
  nodeMax: 3,
  /** service slots */
  serviceMax: 4,
  /** channel slots */
  channelMax: 5,
  /** descriptors per ring */
  ringCapacity: 6,
  /** buffer size classes (class records) */
  classCount: 7,
  /** descriptors that failed validation since creation */
  corrupt: 8,
  /** dead nodes reclaimed since creation */
  reclaimed: 9,
  /** channels opened since creation */
  channelsOpened: 10,
  /** the pid of the creator */
  creatorPid: 11,
  /** the file's owner */
  uid: 12,
  /** the file's group */
  gid: 13,
  /** the file's permission bits */
  mode: 14,
  /** the file's inode number */
  inode: 15,
  /** node records */
  nodes: 16,
  /** service records */
  services: 17,
  /** channel records */
  channels: 18,
  /** when the snapshot was taken: CLOCK_REALTIME milliseconds */
  takenMs: 19,
  /** the node of the handle that took it, or -1 for a read-only inspector */
  selfNode: 20,
  /** the file's link count: 0 once removed */
  links: 21,
  /** the length of the header */
  words: 24,
} as const;

/** Words of a node record of a snapshot. */
export const SnapNode = {
  index: 0,
  state: 1,
  generation: 2,
  pid: 3,
  runtime: 4,
  startedMs: 5,
  alive: 6,
  parked: 7,
  words: 8,
} as const;

/** Words of a service record of a snapshot. */
export const SnapService = {
  index: 0,
  node: 1,
  generation: 2,
  nameLen: 3,
  words: 4,
} as const;

/** Words of a channel record of a snapshot. */
export const SnapChannel = {
  index: 0,
  state: 1,
  generation: 2,
  service: 3,
  client: 4,
  server: 5,
  flags: 6,
  c2sMessages: 7,
  c2sBytes: 8,
  c2sFill: 9,
  s2cMessages: 10,
  s2cBytes: 11,
  s2cFill: 12,
  clientPoll: 13,
  serverPoll: 14,
  words: 16,
} as const;

/** Words of a buffer class record of a snapshot. */
export const SnapClass = {
  size: 0,
  count: 1,
  free: 2,
  held: 3,
  inflight: 4,
  allocations: 5,
  heldDead: 6,
  invalid: 7,
  words: 8,
} as const;

/** Poll modes, as a receiving end records it. */
export const PollMode = {
  unknown: 0,
  event: 1,
  adaptive: 2,
  spin: 3,
} as const;

/** What `xio_gc` did. */
export const Gc = {
  nothing: 0,
  removed: 1,
  reclaimed: 2,
  lockRemoved: 3,
} as const;

/** Channel flag bits returned by `xio_flags`. */
export const Flag = {
  clientGone: 1,
  serverGone: 2,
  eofC2s: 4,
  eofS2c: 8,
  reset: 16,
  accepted: 32,
  corrupt: 64,
} as const;

/** Constants shared with the library. */
export const Const = {
  batchMax: 256,
  ioWords: 514,
  eventsMax: 4096,
  nameBytesMax: 64,
  bufferClassShift: 24,
  nodeWakeOffset: 128,
  ringLineBytes: 128,
  ringNotifiedAtOffset: 264,
  ringPollModeOffset: 136,
  optionNone: 4294967295,
} as const;
