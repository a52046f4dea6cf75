//! The shared-memory layout of a domain. Everything here is an `extern struct` with explicitly
//! sized integers, pinned by comptime checks, and refers to other parts only by offsets from
//! the start of the mapping, because every process maps the file at its own address.
//!
//!     +--------------------+ 0
//!     | Header             | 4 KiB: identity, sizes, offsets, counters, size classes
//!     +--------------------+ nodes_offset
//!     | Node[node_max]     | one per attached process: status, parked flag, event summary
//!     +--------------------+ events_offset
//!     | event bitmaps      | node_max x channel_max bits: "channel c has news for you"
//!     +--------------------+ services_offset
//!     | Service[...]       | the registry: name -> listening node
//!     +--------------------+ channels_offset
//!     | Channel[...]       | connection slots: endpoints and state flags
//!     +--------------------+ rings_offset
//!     | Ring pairs         | two SPSC descriptor rings per channel
//!     +--------------------+ owners_offset (per class)
//!     | owner words        | one u32 per buffer: who holds it
//!     +--------------------+ data_offset (per class)
//!     | buffers            | the payload bytes, page aligned
//!     +--------------------+ total_size

const std = @import("std");
const assert = std.debug.assert;

pub const magic: u64 = 0x314e_4d4f_444f_4958; // "XIODOMN1", little endian
/// 2: nodes are woken through doorbell sockets (`Node.parked`), no longer through a futex.
/// 3: per-ring message and byte counters, the consumer's poll mode, and each node's start time,
/// for inspection (inspect.zig).
pub const version: u32 = 3;

/// Two cache lines: adjacent-line prefetchers pull pairs of 64-byte lines, so shared indices that
/// different cores write are kept 128 bytes apart.
pub const line_bytes: u32 = 128;
pub const header_bytes: u32 = 4096;
pub const page_bytes: u32 = 4096;

pub const class_count_max: u32 = 4;
pub const name_bytes_max: u32 = 64;
/// One u64 summary word per node has a bit for each event word, so 64 x 64 channels at most.
pub const channel_max_limit: u32 = 4096;
/// Owner words name a node in 8 bits.
pub const node_max_limit: u32 = 256;
pub const service_max_limit: u32 = 4096;
pub const ring_capacity_max: u32 = 1 << 16;
pub const buffer_count_max: u32 = 1 << 24;
pub const buffer_size_max: u32 = 1 << 30;

pub const Backing = enum(u32) {
    hugetlbfs = 1,
    shm_thp = 2,
    shm = 3,
    file = 4,
};

pub const Class = extern struct {
    buffer_size: u32,
    buffer_count: u32,
    owners_offset: u64,
    data_offset: u64,
    _reserved0: u64,
    /// Bit n set: node n waits for a buffer of this class. Written only when a pool runs dry.
    waiting_nodes: [4]u64,
    /// Total successful allocations, for statistics and for proving zero-copy in tests.
    allocations: u64,
    _reserved1: [line_bytes - 72]u8,
};

pub const Header = extern struct {
    magic: u64,
    version: u32,
    header_size: u32,
    total_size: u64,
    creator_pid: u32,
    backing: u32,
    node_max: u32,
    service_max: u32,
    channel_max: u32,
    ring_capacity: u32,
    class_count: u32,
    event_words: u32,
    nodes_offset: u64,
    events_offset: u64,
    services_offset: u64,
    channels_offset: u64,
    rings_offset: u64,
    ring_pair_bytes: u64,
    _reserved0: [line_bytes - 104]u8,
    /// Counters on a line of their own, away from the read-mostly fields above.
    corrupt_descriptors: u64,
    channels_opened: u64,
    nodes_reclaimed: u64,
    _reserved1: [line_bytes - 24]u8,
    classes: [class_count_max]Class,
    _reserved2: [header_bytes - 2 * line_bytes - class_count_max * line_bytes]u8,
};

pub const NodeState = enum(u32) { free = 0, active = 1, cleaning = 2 };

/// A node's `status` packs its state with a generation, so that a compare-and-swap on a stale
/// reading fails after the slot has been freed and taken again.
pub fn nodeStatus(state: NodeState, generation: u32) u32 {
    return (generation << 2) | @backingInt(state);
}
pub fn nodeStatusState(status: u32) NodeState {
    return switch (status & 3) {
        0 => .free,
        1 => .active,
        else => .cleaning,
    };
}
pub fn nodeStatusGeneration(status: u32) u32 {
    return status >> 2;
}

pub const Node = extern struct {
    status: u32,
    pid: u32,
    runtime: u32,
    _reserved_pad: u32,
    /// When the node joined: CLOCK_REALTIME milliseconds. Informational, for inspection.
    started_ms: u64,
    _reserved0: [line_bytes - 24]u8,
    /// 1 while the node's event loop may be asleep and wants its doorbell socket rung for news.
    /// The notifier that swaps it back to 0 writes the one byte that wakes it (see
    /// `Domain.notify` for the protocol).
    parked: u32,
    /// 1 once the node listens on its doorbell socket: before that, nobody connects to it.
    bell_ready: u32,
    /// Set when a buffer this node waited for was released.
    pool_event: u32,
    _reserved1: u32,
    /// Bit w set: event word w of this node's bitmap may have bits set.
    summary: u64,
    _reserved2: [line_bytes - 24]u8,
};

pub const ServiceState = enum(u32) { free = 0, active = 1 };

pub const Service = extern struct {
    state: u32,
    node: u32,
    generation: u32,
    name_len: u32,
    name: [name_bytes_max]u8,
    _reserved: [line_bytes - 16 - name_bytes_max]u8,
};

pub const ChannelState = enum(u32) { free = 0, claimed = 1, open = 2 };

/// Channel flag bits (part of the ABI: `xio_flags` returns them). Each side sets its own bits with
/// an atomic OR and reads the other side's.
pub const flag = @import("abi.zig").Flag;

pub const Channel = extern struct {
    /// `ChannelState` in the low 2 bits, the claiming client node above them.
    status: u32,
    generation: u32,
    service: u32,
    service_generation: u32,
    client: u32,
    server: u32,
    flags: u32,
    _reserved: [line_bytes - 28]u8,
};

pub fn channelStatus(state: ChannelState, client: u32) u32 {
    return (client << 2) | @backingInt(state);
}
pub fn channelStatusState(status: u32) ChannelState {
    return switch (status & 3) {
        0 => .free,
        1 => .claimed,
        else => .open,
    };
}
pub fn channelStatusClient(status: u32) u32 {
    return status >> 2;
}

/// One single-producer single-consumer ring. The producer's line, the consumer's line and the
/// rarely written wake-up flags each sit on their own line.
pub const RingHeader = extern struct {
    tail: u32,
    /// The producer's last reading of `head`: a hint, validated before use.
    head_cache: u32,
    /// Messages and payload bytes the producer pushed since the channel opened. Written only by
    /// the producer, on the line it writes anyway for `tail`, so that counting costs no extra
    /// cache-line transfer; read by inspectors (inspect.zig), never trusted for anything else.
    messages: u64,
    bytes: u64,
    _reserved0: [line_bytes - 24]u8,
    head: u32,
    /// The consumer's last reading of `tail`: a hint, validated before use.
    tail_cache: u32,
    /// How the consumer waits for this ring (`abi.PollMode`), written by it when it opens its
    /// end. Informational, for inspection.
    poll_mode: u32,
    _reserved1: [line_bytes - 12]u8,
    consumer_waiting: u32,
    producer_waiting: u32,
    /// When the producer last woke the waiting consumer, that is when the news it waited for
    /// arrived, however late the consumer woke up: the bits of an f64 of CLOCK_MONOTONIC
    /// nanoseconds, so that JS reads it as a Float64Array. A hint for the consumer's polling,
    /// never trusted for anything else.
    notified_at: u64,
    _reserved2: [line_bytes - 16]u8,
};

/// A descriptor: the buffer id in the high half, the message length in the low half.
pub const Descriptor = u64;

pub fn descriptor(buffer_id: u32, length: u32) Descriptor {
    return (@as(u64, buffer_id) << 32) | length;
}
pub fn descriptorBuffer(d: Descriptor) u32 {
    return @truncate(d >> 32);
}
pub fn descriptorLength(d: Descriptor) u32 {
    return @truncate(d);
}

/// Buffer ids carry the size class in the top 8 bits and the index in the low 24.
pub fn bufferId(class: u32, index: u32) u32 {
    assert(class < class_count_max);
    assert(index < buffer_count_max);
    return (class << 24) | index;
}
pub fn bufferClass(id: u32) u32 {
    return id >> 24;
}
pub fn bufferIndex(id: u32) u32 {
    return id & 0x00ff_ffff;
}

/// Owner words. Every buffer is always in exactly one of these states, and every transition is
/// one compare-and-swap, so a process killed at any instruction leaves each buffer either free
/// or labelled with an owner that the survivors can reclaim:
///   0                          free
///   0x4000_0000 | node         held by a node (allocated, or received and not yet released)
///   0x8000_0000 | chan*2 | dir in flight on a channel's ring, in direction dir
pub const owner_free: u32 = 0;
pub fn ownerNode(node: u32) u32 {
    assert(node < node_max_limit);
    return 0x4000_0000 | node;
}
pub fn ownerInflight(channel: u32, direction: u32) u32 {
    assert(channel < channel_max_limit);
    assert(direction < 2);
    return 0x8000_0000 | (channel << 1) | direction;
}
pub fn ownerIsInflightOn(owner: u32, channel: u32) bool {
    return owner & 0xc000_0000 == 0x8000_0000 and (owner & 0x3fff_ffff) >> 1 == channel;
}

/// What the creator asks for. Attachers read it back from the header.
pub const Config = struct {
    node_max: u32 = 64,
    service_max: u32 = 128,
    channel_max: u32 = 1024,
    ring_capacity: u32 = 1024,
    class_count: u32 = 4,
    class_sizes: [class_count_max]u32 = .{ 256, 4096, 65536, 1 << 20 },
    class_counts: [class_count_max]u32 = .{ 8192, 2048, 256, 16 },

    pub fn valid(config: Config) bool {
        if (config.node_max == 0 or config.node_max > node_max_limit) return false;
        if (config.service_max == 0 or config.service_max > service_max_limit) return false;
        if (config.channel_max == 0 or config.channel_max > channel_max_limit) return false;
        if (config.channel_max % 64 != 0) return false;
        if (config.ring_capacity < 2 or config.ring_capacity > ring_capacity_max) return false;
        if (!std.math.isPowerOfTwo(config.ring_capacity)) return false;
        if (config.class_count == 0 or config.class_count > class_count_max) return false;
        var previous: u32 = 0;
        for (0..config.class_count) |c| {
            const size = config.class_sizes[c];
            if (size < 64 or size > buffer_size_max or size % 64 != 0) return false;
            if (size <= previous) return false; // strictly ascending, so alloc picks the first fit
            if (config.class_counts[c] == 0 or config.class_counts[c] > buffer_count_max) return false;
            previous = size;
        }
        return true;
    }
};

pub const Layout = struct {
    nodes_offset: u64,
    events_offset: u64,
    services_offset: u64,
    channels_offset: u64,
    rings_offset: u64,
    ring_pair_bytes: u64,
    owners_offset: [class_count_max]u64,
    data_offset: [class_count_max]u64,
    total_size: u64,

    pub fn compute(config: Config, granule_bytes: u64) Layout {
        assert(config.valid());
        assert(std.math.isPowerOfTwo(granule_bytes));
        var layout: Layout = undefined;
        var at: u64 = header_bytes;
        layout.nodes_offset = at;
        at += @as(u64, config.node_max) * @sizeOf(Node);
        layout.events_offset = alignUp(at, line_bytes);
        at = layout.events_offset + @as(u64, config.node_max) * (config.channel_max / 8);
        layout.services_offset = alignUp(at, line_bytes);
        at = layout.services_offset + @as(u64, config.service_max) * @sizeOf(Service);
        layout.channels_offset = alignUp(at, line_bytes);
        at = layout.channels_offset + @as(u64, config.channel_max) * @sizeOf(Channel);
        layout.rings_offset = alignUp(at, line_bytes);
        layout.ring_pair_bytes = 2 * ringBytes(config.ring_capacity);
        at = layout.rings_offset + @as(u64, config.channel_max) * layout.ring_pair_bytes;
        for (0..class_count_max) |c| {
            if (c >= config.class_count) {
                layout.owners_offset[c] = 0;
                layout.data_offset[c] = 0;
                continue;
            }
            layout.owners_offset[c] = alignUp(at, line_bytes);
            at = layout.owners_offset[c] + @as(u64, config.class_counts[c]) * 4;
        }
        for (0..config.class_count) |c| {
            layout.data_offset[c] = alignUp(at, page_bytes);
            at = layout.data_offset[c] + @as(u64, config.class_counts[c]) * config.class_sizes[c];
        }
        layout.total_size = alignUp(at, granule_bytes);
        assert(layout.total_size >= at);
        assert(layout.rings_offset % line_bytes == 0);
        return layout;
    }
};

pub fn ringBytes(capacity: u32) u64 {
    return alignUp(@sizeOf(RingHeader) + @as(u64, capacity) * @sizeOf(Descriptor), line_bytes);
}

pub fn alignUp(value: u64, alignment: u64) u64 {
    assert(std.math.isPowerOfTwo(alignment));
    return (value + alignment - 1) & ~(alignment - 1);
}

comptime {
    assert(@sizeOf(Header) == header_bytes);
    assert(@offsetOf(Header, "corrupt_descriptors") == line_bytes);
    assert(@offsetOf(Header, "classes") == 2 * line_bytes);
    assert(@sizeOf(Class) == line_bytes);
    assert(@sizeOf(Node) == 2 * line_bytes);
    assert(@offsetOf(Node, "parked") == line_bytes);
    assert(@sizeOf(Service) == line_bytes);
    assert(@sizeOf(Channel) == line_bytes);
    assert(@sizeOf(RingHeader) == 3 * line_bytes);
    assert(@offsetOf(RingHeader, "head") == line_bytes);
    assert(@offsetOf(RingHeader, "consumer_waiting") == 2 * line_bytes);
    assert(@offsetOf(RingHeader, "notified_at") == 2 * line_bytes + 8);
    assert(@offsetOf(RingHeader, "messages") == 8);
    assert(@offsetOf(RingHeader, "poll_mode") == line_bytes + 8);
    assert(@offsetOf(Node, "started_ms") == 16);
    assert(@sizeOf(Descriptor) == 8);
    assert(channel_max_limit / 64 <= 64); // one summary bit per event word
}

test "layout offsets are aligned and ordered" {
    const config: Config = .{};
    const layout = Layout.compute(config, page_bytes);
    try std.testing.expect(layout.nodes_offset == header_bytes);
    try std.testing.expect(layout.events_offset > layout.nodes_offset);
    try std.testing.expect(layout.services_offset > layout.events_offset);
    try std.testing.expect(layout.channels_offset > layout.services_offset);
    try std.testing.expect(layout.rings_offset > layout.channels_offset);
    try std.testing.expect(layout.data_offset[0] % page_bytes == 0);
    try std.testing.expect(layout.data_offset[3] + 16 * (1 << 20) <= layout.total_size);
    const huge = Layout.compute(config, 2 * 1024 * 1024);
    try std.testing.expect(huge.total_size % (2 * 1024 * 1024) == 0);
}

test "owner words encode nodes and channels without overlap" {
    try std.testing.expect(ownerNode(0) != owner_free);
    try std.testing.expect(ownerInflight(0, 0) != ownerNode(0));
    try std.testing.expect(ownerIsInflightOn(ownerInflight(7, 1), 7));
    try std.testing.expect(!ownerIsInflightOn(ownerInflight(7, 1), 6));
    try std.testing.expect(!ownerIsInflightOn(ownerNode(7), 3));
    try std.testing.expect(ownerInflight(channel_max_limit - 1, 1) & 0x4000_0000 == 0);
}

test "config validation rejects bad sizes" {
    try std.testing.expect((Config{}).valid());
    try std.testing.expect(!(Config{ .ring_capacity = 100 }).valid());
    try std.testing.expect(!(Config{ .channel_max = 100 }).valid());
    try std.testing.expect(!(Config{ .class_sizes = .{ 4096, 2048, 65536, 1 << 20 } }).valid());
    try std.testing.expect(!(Config{ .node_max = 0 }).valid());
}
