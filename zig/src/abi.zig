//! The ABI of libxio, declared once: status codes, the option words of `xio_open`, the slots of
//! `xio_stats`, channel flags, shared constants and every exported function with its parameters.
//!
//! zig/include/xio.h and ffi/_abi.ts are generated from this file (`zig build abi`), and
//! `zig build test` fails when either is stale. lib.zig checks at compile time that every
//! function here is exported with the same parameters, and nothing else is. Bump `version` with
//! any change a caller would notice: the loaders refuse a library of another version.

const std = @import("std");

/// The ABI version, checked by the loaders through `xio_abi_version()`.
pub const version: u32 = 5;

/// Status codes: every function returns one of these (negative) or a non-negative result.
pub const Status = enum(i32) {
    ok = 0,
    would_block = -1,
    closed = -2,
    reset = -3,
    corrupt = -4,
    invalid = -5,
    too_big = -6,
    not_found = -7,
    in_use = -8,
    full = -9,
    not_domain = -10,
    version = -11,
    truncated = -12,
    layout = -13,
    io = -14,
    no_space = -15,
    busy = -16,
    pipe = -17,
    state = -18,
    permission = -19,
    refused = -20,
    invalid_name = -21,
    invalid_config = -22,
    hugepages_unavailable = -23,
    path_too_long = -24,
    not_regular = -25,
    foreign_owner = -26,
    lock_timeout = -27,
};

/// What each status means, for the generated header and table.
pub const status_docs = .{
    .ok = "success",
    .would_block = "nothing to do now: the ring is full or empty, or the pool is empty",
    .closed = "the peer closed its sending side and everything was received",
    .reset = "the peer died; the channel is reset",
    .corrupt = "a descriptor, ring index or channel slot failed validation; the channel is poisoned",
    .invalid = "an argument that is not ours to use (a buffer we do not hold, a channel we are not on)",
    .too_big = "larger than the largest buffer class",
    .not_found = "no such domain",
    .in_use = "the service already has a listener",
    .full = "no free slot (node, service or channel)",
    .not_domain = "the file is not an xio domain",
    .version = "the domain has another layout version (the detail word says which)",
    .truncated = "the domain file is shorter than its layout",
    .layout = "the header describes an impossible layout",
    .io = "an unexpected system error",
    .no_space = "not enough memory in the backing store",
    .busy = "the domain file kept changing under the open",
    .pipe = "the peer closed the channel",
    .state = "this side already closed its sending side",
    .permission = "permission denied",
    .refused = "nobody listens on the service",
    .invalid_name = "a name outside the alphabet, empty or too long",
    .invalid_config = "sizes that no layout allows",
    .hugepages_unavailable = "huge pages were required but none are free",
    .path_too_long = "the directory is too long for doorbell socket addresses",
    .not_regular = "a symlink, directory, socket, FIFO or device where a file should be",
    .foreign_owner = "the file or directory belongs to an untrusted user",
    .lock_timeout = "another process held a lock for longer than the timeout",
};

/// Words of the `options` array given to `xio_open`.
pub const Opt = struct {
    pub const flags: u32 = 0;
    pub const hugepages: u32 = 1;
    pub const mode: u32 = 2;
    pub const runtime: u32 = 3;
    pub const node_max: u32 = 4;
    pub const service_max: u32 = 5;
    pub const channel_max: u32 = 6;
    pub const ring_capacity: u32 = 7;
    pub const class_count: u32 = 8;
    pub const class_sizes: u32 = 9;
    pub const class_counts: u32 = 13;
    pub const group: u32 = 17;
    pub const lock_timeout_ms: u32 = 18;
    pub const owners: u32 = 19;
    pub const owners_max: u32 = 4;
    pub const words: u32 = 23;
};

pub const opt_docs = .{
    .flags = "bit 0: create the domain if it does not exist",
    .hugepages = "0 auto, 1 require, 2 never",
    .mode = "the file mode of a created domain, such as 0600",
    .runtime = "informational: 1 Deno, 2 Bun",
    .node_max = "attached processes at most (1-256)",
    .service_max = "services at most (1-4096)",
    .channel_max = "channels at most: a multiple of 64, at most 4096",
    .ring_capacity = "descriptors per ring: a power of two",
    .class_count = "buffer size classes (1-4)",
    .class_sizes = "4 words: bytes per buffer, ascending multiples of 64",
    .class_counts = "4 words: buffers per class",
    .group = "the gid whose members share domains, or 0xffffffff for none",
    .lock_timeout_ms = "the longest a lock wait lasts",
    .owners = "owners_max words: further trusted uids, or 0xffffffff",
    .owners_max = "how many trusted uids the options hold",
    .words = "the length of the options array",
};

/// Slots of the array that `xio_stats` fills (doubles, exact up to 2^53).
pub const Stat = struct {
    pub const version: u32 = 0;
    pub const size: u32 = 1;
    pub const backing: u32 = 2;
    pub const node: u32 = 3;
    pub const node_max: u32 = 4;
    pub const nodes: u32 = 5;
    pub const channel_max: u32 = 6;
    pub const channels: u32 = 7;
    pub const service_max: u32 = 8;
    pub const services: u32 = 9;
    pub const ring_capacity: u32 = 10;
    pub const class_count: u32 = 11;
    pub const corrupt: u32 = 12;
    pub const reclaimed: u32 = 13;
    pub const channels_opened: u32 = 14;
    pub const creator_pid: u32 = 15;
    pub const class: u32 = 24;
    pub const class_stride: u32 = 6;
    pub const words: u32 = 48;
};

pub const stat_docs = .{
    .version = "the layout version",
    .size = "the mapping's size in bytes",
    .backing = "1 hugetlbfs, 2 /dev/shm with THP, 3 /dev/shm, 4 plain file",
    .node = "this handle's node index",
    .node_max = "node slots",
    .nodes = "nodes attached now",
    .channel_max = "channel slots",
    .channels = "channels open now",
    .service_max = "service slots",
    .services = "services registered now",
    .ring_capacity = "descriptors per ring",
    .class_count = "buffer size classes",
    .corrupt = "descriptors that failed validation since creation",
    .reclaimed = "dead nodes reclaimed since creation",
    .channels_opened = "channels opened since creation",
    .creator_pid = "the pid of the creator",
    .class = "the first per-class slot: then per class size, count, free, allocations, data offset, 0",
    .class_stride = "slots per class",
    .words = "the length of the stats array",
};

/// Words of the header of the snapshot that `xio_snapshot` writes (doubles, exact up to 2^53).
/// The records follow it, each kind in a block: `nodes` node records (`SnapNode`), then
/// `services` service records (`SnapService`), `channels` channel records (`SnapChannel`) and
/// `class_count` class records (`SnapClass`). Only slots in use have a record.
pub const Snap = struct {
    pub const version: u32 = 0;
    pub const size: u32 = 1;
    pub const backing: u32 = 2;
    pub const node_max: u32 = 3;
    pub const service_max: u32 = 4;
    pub const channel_max: u32 = 5;
    pub const ring_capacity: u32 = 6;
    pub const class_count: u32 = 7;
    pub const corrupt: u32 = 8;
    pub const reclaimed: u32 = 9;
    pub const channels_opened: u32 = 10;
    pub const creator_pid: u32 = 11;
    pub const uid: u32 = 12;
    pub const gid: u32 = 13;
    pub const mode: u32 = 14;
    pub const inode: u32 = 15;
    pub const nodes: u32 = 16;
    pub const services: u32 = 17;
    pub const channels: u32 = 18;
    pub const taken_ms: u32 = 19;
    pub const self_node: u32 = 20;
    pub const links: u32 = 21;
    pub const words: u32 = 24;
};

pub const snap_docs = .{
    .version = "the layout version",
    .size = "the file's size in bytes",
    .backing = "1 hugetlbfs, 2 /dev/shm with THP, 3 /dev/shm, 4 plain file",
    .node_max = "node slots",
    .service_max = "service slots",
    .channel_max = "channel slots",
    .ring_capacity = "descriptors per ring",
    .class_count = "buffer size classes (class records)",
    .corrupt = "descriptors that failed validation since creation",
    .reclaimed = "dead nodes reclaimed since creation",
    .channels_opened = "channels opened since creation",
    .creator_pid = "the pid of the creator",
    .uid = "the file's owner",
    .gid = "the file's group",
    .mode = "the file's permission bits",
    .inode = "the file's inode number",
    .nodes = "node records",
    .services = "service records",
    .channels = "channel records",
    .taken_ms = "when the snapshot was taken: CLOCK_REALTIME milliseconds",
    .self_node = "the node of the handle that took it, or -1 for a read-only inspector",
    .links = "the file's link count: 0 once removed",
    .words = "the length of the header",
};

/// A node record of a snapshot.
pub const SnapNode = struct {
    pub const index: u32 = 0;
    /// 1 active, 2 being cleaned up.
    pub const state: u32 = 1;
    pub const generation: u32 = 2;
    pub const pid: u32 = 3;
    /// 1 Deno, 2 Bun, 0 other.
    pub const runtime: u32 = 4;
    pub const started_ms: u32 = 5;
    /// 1 while its process holds its liveness lock, 0 once it died (the next probe reclaims it).
    pub const alive: u32 = 6;
    /// 1 while its event loop sleeps waiting for news.
    pub const parked: u32 = 7;
    pub const words: u32 = 8;
};

/// A service record of a snapshot; its name is at `names[record * name_bytes_max ..][0..name_len]`.
pub const SnapService = struct {
    pub const index: u32 = 0;
    pub const node: u32 = 1;
    pub const generation: u32 = 2;
    pub const name_len: u32 = 3;
    pub const words: u32 = 4;
};

/// A channel record of a snapshot. Direction c2s is the client's sends, s2c the server's.
pub const SnapChannel = struct {
    pub const index: u32 = 0;
    /// 1 claimed (connecting), 2 open.
    pub const state: u32 = 1;
    pub const generation: u32 = 2;
    pub const service: u32 = 3;
    pub const client: u32 = 4;
    pub const server: u32 = 5;
    /// `Flag` bits.
    pub const flags: u32 = 6;
    pub const c2s_messages: u32 = 7;
    pub const c2s_bytes: u32 = 8;
    /// Descriptors in the ring now, sent and not yet received.
    pub const c2s_fill: u32 = 9;
    pub const s2c_messages: u32 = 10;
    pub const s2c_bytes: u32 = 11;
    pub const s2c_fill: u32 = 12;
    /// `PollMode` of the client's receiving end.
    pub const client_poll: u32 = 13;
    pub const server_poll: u32 = 14;
    pub const words: u32 = 16;
};

/// A buffer class record of a snapshot: where each buffer is, by its owner word.
pub const SnapClass = struct {
    pub const size: u32 = 0;
    pub const count: u32 = 1;
    pub const free: u32 = 2;
    /// Held by a live node (allocated, or received and not yet released).
    pub const held: u32 = 3;
    /// In flight on a channel's ring.
    pub const inflight: u32 = 4;
    pub const allocations: u32 = 5;
    /// Held by a node that died and is not reclaimed yet.
    pub const held_dead: u32 = 6;
    /// Owner words that name no node or channel: corrupt.
    pub const invalid: u32 = 7;
    pub const words: u32 = 8;
};

/// How a receiving end waits, as it records it in the ring it consumes (`RingHeader.poll_mode`).
pub const PollMode = struct {
    pub const unknown: u32 = 0;
    pub const event: u32 = 1;
    pub const adaptive: u32 = 2;
    pub const spin: u32 = 3;
};

/// What `xio_gc` did or, with `dry_run`, would do: `result[0]`, with a count in `result[1]`.
pub const Gc = struct {
    /// Nothing to do: the domain is live and no node in it is dead.
    pub const nothing: u32 = 0;
    /// The file (and its lock file and doorbells) belonged to no live process and went.
    pub const removed: u32 = 1;
    /// The domain is live; `result[1]` dead nodes in it were reclaimed.
    pub const reclaimed: u32 = 2;
    /// A lock file with no domain file went.
    pub const lock_removed: u32 = 3;
};

/// Channel flag bits, as `xio_flags` returns them.
pub const Flag = struct {
    pub const client_gone: u32 = 1 << 0;
    pub const server_gone: u32 = 1 << 1;
    pub const eof_c2s: u32 = 1 << 2;
    pub const eof_s2c: u32 = 1 << 3;
    pub const reset: u32 = 1 << 4;
    pub const accepted: u32 = 1 << 5;
    pub const corrupt: u32 = 1 << 6;
};

/// Constants both sides use.
pub const Const = struct {
    /// The most descriptors one bulk call moves.
    pub const batch_max: u32 = 256;
    /// Words of the per-handle `io` array: [0] a length, [1] an extra result, then pairs.
    pub const io_words: u32 = 2 + 2 * batch_max;
    /// Channel indices the per-handle `events` array holds.
    pub const events_max: u32 = 4096;
    /// The longest name of a domain or a service, in bytes.
    pub const name_bytes_max: u32 = 64;
    /// Buffer ids carry the class in the bits above this shift, the index below.
    pub const buffer_class_shift: u32 = 24;
    /// The byte offset of a node's wake-up words within its slot (see layout.zig, `Node`).
    pub const node_wake_offset: u32 = 128;
    /// Bytes per cache-line pair of a ring header (see layout.zig, `RingHeader`).
    pub const ring_line_bytes: u32 = 128;
    /// The byte offset of `notified_at` within a ring header.
    pub const ring_notified_at_offset: u32 = 2 * 128 + 8;
    /// The byte offset of `poll_mode` within a ring header (the consumer's line).
    pub const ring_poll_mode_offset: u32 = 128 + 8;
    /// An unused option word (no group, no further owner).
    pub const option_none: u32 = 0xffff_ffff;
};

/// The parameter and result types of the ABI, in a vocabulary neutral to the runtime.
pub const Type = enum {
    u32,
    i32,
    f64,
    void,
    /// The opaque `xio_domain *` that `xio_open` returns.
    handle,
    /// Memory the call reads or writes (a typed array on the JS side).
    bytes,
    /// A raw address returned by the library.
    pointer,

    pub fn c(comptime t: Type, comptime name: []const u8) []const u8 {
        _ = name;
        return switch (t) {
            .u32 => "uint32_t",
            .i32 => "int32_t",
            .f64 => "double",
            .void => "void",
            .handle => "xio_domain *",
            .bytes => "void *",
            .pointer => "void *",
        };
    }
};

pub const Param = struct { name: []const u8, type: Type, c: ?[]const u8 = null };
pub const Function = struct { name: []const u8, params: []const Param, result: Type, doc: []const u8, c_result: ?[]const u8 = null };

fn p(name: []const u8, t: Type) Param {
    return .{ .name = name, .type = t };
}
fn pc(name: []const u8, t: Type, c_type: []const u8) Param {
    return .{ .name = name, .type = t, .c = c_type };
}
const h = p("d", .handle);

/// Every exported function, in the order of the header.
pub const functions = [_]Function{
    .{ .name = "xio_version", .params = &.{}, .result = .u32, .doc = "The layout version of domains this library makes." },
    .{ .name = "xio_abi_version", .params = &.{}, .result = .u32, .doc = "The version of this ABI (abi.zig, `version`)." },
    .{ .name = "xio_open", .params = &.{ pc("name", .bytes, "const uint8_t *"), p("name_len", .u32), pc("dir", .bytes, "const uint8_t *"), p("dir_len", .u32), pc("options", .bytes, "const uint32_t *"), pc("status", .bytes, "int32_t *") }, .result = .handle, .doc = "Opens (or creates) and joins a domain. Null on failure, with the status in status[0] and a detail (such as the version found) in status[1]." },
    .{ .name = "xio_close", .params = &.{h}, .result = .void, .doc = "Leaves the domain and frees the handle." },
    .{ .name = "xio_io", .params = &.{h}, .result = .pointer, .c_result = "uint32_t *", .doc = "The handle's io array (Const.io_words words)." },
    .{ .name = "xio_events", .params = &.{h}, .result = .pointer, .c_result = "uint32_t *", .doc = "The handle's events array (Const.events_max words)." },
    .{ .name = "xio_base", .params = &.{h}, .result = .pointer, .c_result = "uint8_t *", .doc = "The base of the mapping." },
    .{ .name = "xio_stats", .params = &.{ h, pc("out", .bytes, "double *"), p("len", .u32) }, .result = .i32, .doc = "Writes the Stat slots to out (len >= Stat.words)." },
    .{ .name = "xio_listen", .params = &.{ h, pc("name", .bytes, "const uint8_t *"), p("name_len", .u32) }, .result = .i32, .doc = "Registers a service; returns its index." },
    .{ .name = "xio_unlisten", .params = &.{ h, p("service", .u32) }, .result = .i32, .doc = "Unregisters a service of this node." },
    .{ .name = "xio_connect", .params = &.{ h, pc("name", .bytes, "const uint8_t *"), p("name_len", .u32) }, .result = .i32, .doc = "Opens a channel to a service; returns its index (this node is side 0)." },
    .{ .name = "xio_accept", .params = &.{ h, p("chan", .u32) }, .result = .i32, .doc = "Accepts a new channel this node heard of; returns the service index." },
    .{ .name = "xio_refuse", .params = &.{ h, p("chan", .u32) }, .result = .void, .doc = "Refuses a channel nobody listens for." },
    .{ .name = "xio_send", .params = &.{ h, p("chan", .u32), p("side", .u32), p("id", .u32), p("length", .u32) }, .result = .i32, .doc = "Sends one message: 1 if that rang the sleeping peer's doorbell, 0 if the peer was awake." },
    .{ .name = "xio_send_many", .params = &.{ h, p("chan", .u32), p("side", .u32), p("count", .u32) }, .result = .i32, .doc = "Sends the (id, length) pairs at io[2..]; returns how many went." },
    .{ .name = "xio_recv", .params = &.{ h, p("chan", .u32), p("side", .u32) }, .result = .i32, .doc = "Receives one message: its buffer id, its length in io[0]." },
    .{ .name = "xio_recv_many", .params = &.{ h, p("chan", .u32), p("side", .u32), p("max", .u32) }, .result = .i32, .doc = "Receives up to max messages as pairs at io[2..]; returns how many." },
    .{ .name = "xio_recv_wait", .params = &.{ h, p("chan", .u32), p("side", .u32), p("park", .u32) }, .result = .i32, .doc = "Receives one message, or arms the ring (and with park, parks the node): would_block then, with io[1] = 1 if news came meanwhile." },
    .{ .name = "xio_arm_recv", .params = &.{ h, p("chan", .u32), p("side", .u32) }, .result = .i32, .doc = "Asks to be notified of the next message: 1 if one is there already." },
    .{ .name = "xio_arm_send", .params = &.{ h, p("chan", .u32), p("side", .u32), p("window", .u32) }, .result = .i32, .doc = "Asks to be notified when fewer than window messages wait: 1 if so already." },
    .{ .name = "xio_pending", .params = &.{ h, p("chan", .u32), p("side", .u32) }, .result = .i32, .doc = "Messages this side sent that the peer has not received." },
    .{ .name = "xio_flags", .params = &.{ h, p("chan", .u32), p("side", .u32) }, .result = .i32, .doc = "The channel's Flag bits." },
    .{ .name = "xio_close_write", .params = &.{ h, p("chan", .u32), p("side", .u32) }, .result = .i32, .doc = "Half-closes this side." },
    .{ .name = "xio_chan_close", .params = &.{ h, p("chan", .u32), p("side", .u32) }, .result = .i32, .doc = "Closes this side; the last side out frees the channel." },
    .{ .name = "xio_alloc", .params = &.{ h, p("size", .u32) }, .result = .i32, .doc = "Allocates a buffer of at least size bytes; returns its id." },
    .{ .name = "xio_alloc_many", .params = &.{ h, p("size", .u32), p("count", .u32) }, .result = .i32, .doc = "Allocates up to count buffers; their ids go to io[2..] (one per pair)." },
    .{ .name = "xio_release", .params = &.{ h, p("id", .u32) }, .result = .i32, .doc = "Gives a held buffer back." },
    .{ .name = "xio_release_many", .params = &.{ h, p("count", .u32) }, .result = .i32, .doc = "Gives back the ids at io[2], io[4], ...; returns how many were ours." },
    .{ .name = "xio_copy_out", .params = &.{ h, p("id", .u32), p("from", .u32), pc("target", .bytes, "uint8_t *"), p("length", .u32) }, .result = .i32, .doc = "Copies bytes of a held buffer out." },
    .{ .name = "xio_copy_in", .params = &.{ h, p("id", .u32), p("at", .u32), pc("source", .bytes, "const uint8_t *"), p("length", .u32) }, .result = .i32, .doc = "Copies bytes into a held buffer." },
    .{ .name = "xio_arm_alloc", .params = &.{ h, p("size", .u32) }, .result = .i32, .doc = "Asks to be notified when a buffer of that size is released." },
    .{ .name = "xio_take_events", .params = &.{h}, .result = .i32, .doc = "Moves pending events into the events array; returns how many. io[1] = 1 if a buffer waited for was released." },
    .{ .name = "xio_park", .params = &.{h}, .result = .i32, .doc = "Parks this node (notifiers ring its doorbell); 1 if news already waits." },
    .{ .name = "xio_unpark", .params = &.{h}, .result = .void, .doc = "Clears this node's parked flag while it polls." },
    .{ .name = "xio_has_events", .params = &.{h}, .result = .i32, .doc = "1 if this node has news." },
    .{ .name = "xio_bell_path", .params = &.{ h, pc("out", .bytes, "uint8_t *"), p("len", .u32) }, .result = .i32, .doc = "Writes the path of this node's doorbell socket; returns its length." },
    .{ .name = "xio_bell_ready", .params = &.{h}, .result = .void, .doc = "Tells notifiers that this node listens on its doorbell." },
    .{ .name = "xio_kernel_check", .params = &.{pc("errno_out", .bytes, "int32_t *")}, .result = .i32, .doc = "Tries the system calls the core needs (statx, OFD locks, shared futexes): 0 if all work, else which failed first (1 statx, 2 OFD locks, 3 futex) with its errno in errno_out[0]." },
    .{ .name = "xio_now_ns", .params = &.{}, .result = .f64, .doc = "CLOCK_MONOTONIC in nanoseconds." },
    .{ .name = "xio_node_offset", .params = &.{h}, .result = .f64, .doc = "The byte offset of this node's slot in the mapping." },
    .{ .name = "xio_ring_offset", .params = &.{ h, p("chan", .u32), p("direction", .u32) }, .result = .f64, .doc = "The byte offset of a ring's header in the mapping." },
    .{ .name = "xio_yield", .params = &.{}, .result = .void, .doc = "Gives the core to another runnable thread, if any (sched_yield)." },
    .{ .name = "xio_probe", .params = &.{h}, .result = .i32, .doc = "Checks the other nodes' liveness now; returns how many dead ones were reclaimed." },
    .{ .name = "xio_inspect", .params = &.{ pc("path", .bytes, "const uint8_t *"), p("path_len", .u32), pc("status", .bytes, "int32_t *") }, .result = .handle, .doc = "Opens a domain file read-only, to inspect it: no node slot, no lock taken, nothing written. Null on failure, with the status in status[0] and a detail in status[1] (as xio_open). Only xio_snapshot and xio_close take the handle." },
    .{ .name = "xio_snapshot", .params = &.{ h, pc("out", .bytes, "double *"), p("len", .u32), pc("names", .bytes, "uint8_t *"), p("names_len", .u32) }, .result = .i32, .doc = "Writes a snapshot (Snap and its records) to out and the service names to names; returns the words written, or invalid if either is too small, with the words needed in out[0] and the name bytes in out[1], or truncated if the file is shorter than its layout now." },
    .{ .name = "xio_snapshot_words", .params = &.{h}, .result = .i32, .doc = "The most words a snapshot of this domain takes." },
    .{ .name = "xio_gc", .params = &.{ pc("name", .bytes, "const uint8_t *"), p("name_len", .u32), pc("dir", .bytes, "const uint8_t *"), p("dir_len", .u32), pc("options", .bytes, "const uint32_t *"), p("dry_run", .u32), pc("result", .bytes, "int32_t *") }, .result = .i32, .doc = "Collects domain name as xio_open would find it: removes its files if no live process holds it, else reclaims its dead nodes; with dry_run, only says what it would do. Writes a Gc code to result[0] and a count to result[1]; returns 0 or a status." },
    .{ .name = "xio_domain_path", .params = &.{ h, pc("out", .bytes, "uint8_t *"), p("len", .u32) }, .result = .i32, .doc = "Writes the path of the domain file; returns its length." },
    .{ .name = "xio_debug_plant", .params = &.{ h, p("chan", .u32), p("direction", .u32), p("high", .u32), p("low", .u32) }, .result = .i32, .doc = "Tests only: pushes a raw descriptor into a ring, as a hostile peer would." },
};

test "status codes are distinct and every one is documented" {
    inline for (@typeInfo(Status).@"enum".field_names) |name| {
        try std.testing.expect(@hasField(@TypeOf(status_docs), name));
    }
}
