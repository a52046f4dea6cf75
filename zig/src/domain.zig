//! A domain: one shared-memory file mapped by a set of cooperating processes, and this process's
//! handle on it. This file holds the handle, its views of the shared regions and the control
//! lock. The rest is split by concept:
//!
//! - file.zig: finding, creating, validating and attaching the file; sweeping orphans; leaving.
//! - nodes.zig: joining as a node, liveness, and the clean-up of dead nodes.
//! - events.zig: event bitmaps and doorbells, with the wake-up protocol.
//! - channel.zig: services and channels; buffer.zig: the buffer pools.

const std = @import("std");
const assert = std.debug.assert;
const sys = @import("sys.zig");
const layout = @import("layout.zig");
const Ring = @import("ring.zig").Ring;
const Pool = @import("pool.zig").Pool;
const file = @import("file.zig");
const nodes = @import("nodes.zig");
const events = @import("events.zig");

pub const Error = error{
    InvalidName,
    InvalidConfig,
    NotFound,
    NotDomain,
    Version,
    Truncated,
    Layout,
    NoSpace,
    PermissionDenied,
    Full,
    Busy,
    HugepagesUnavailable,
    /// The directory is too long for doorbell socket addresses (108 bytes with the file name).
    PathTooLong,
    /// A symlink, directory, socket, FIFO or device where the domain or its lock file should be.
    NotRegular,
    /// The domain, its lock file or its directory belongs to another user, who was not allowed
    /// (see `Options.trust`): joining it would hand our data to whoever created it.
    ForeignOwner,
    /// Another process held the domain's lock for longer than `Options.lock_timeout_ns`.
    LockTimeout,
    Io,
};

pub const path_bytes_max = 512;
pub const batch_max: u32 = 256;
/// The words of `io`: [0] length of the last received message, [1] extra result, then pairs.
pub const io_words: u32 = 2 + 2 * batch_max;

/// Lock bytes in the domain file: byte 0 guards the control plane, byte 1 + n is node n's
/// liveness lock. The lock file next to the domain guards creation and removal.
pub const control_lock_byte: u64 = 0;
pub fn nodeLockByte(node: u32) u64 {
    return 1 + @as(u64, node);
}

pub const Options = struct {
    create: bool = true,
    hugepages: Hugepages = .auto,
    mode: u32 = 0o600,
    runtime: u32 = 0,
    config: layout.Config = .{},
    /// Where to look for and create the domain. Empty: this user's directory (`xio-<uid>`, mode
    /// 0700) under each hugetlbfs mount, then /dev/shm, then /tmp; or with `trust.group`, that
    /// group's (`xio-g<gid>`, mode 2770).
    dir: []const u8 = "",
    trust: Trust = .{},
    /// The longest an open (or any control-plane step) waits for a lock another process holds.
    lock_timeout_ns: u64 = std.time.ns_per_s,

    pub const Hugepages = enum(u32) { auto = 0, require = 1, never = 2 };

    /// Whose domains this process joins besides its own user's. A domain is a trust boundary:
    /// whoever created the file can read everything sent through it, so a file of another user
    /// (in a shared directory such as /dev/shm, where anyone can create a name first) is refused
    /// unless the caller opted in.
    pub const Trust = struct {
        /// Members of this group share domains: they live in the group's directory, are created
        /// group-owned with mode 0660, and files of any member are joined. None when null.
        group: ?u32 = null,
        /// Further user ids whose files are joined.
        owners: [owners_max]u32 = @splat(no_owner),

        pub const owners_max = 4;
        pub const no_owner: u32 = std.math.maxInt(u32);

        /// Whether a file (or directory) owned by `uid` and group `gid` may be joined.
        pub fn allows(trust: Trust, uid: u32, gid: u32) bool {
            if (uid == sys.geteuid()) return true;
            for (trust.owners) |owner| if (owner != no_owner and owner == uid) return true;
            return trust.group != null and trust.group.? == gid;
        }
    };
};

/// What this process knows of one of its channels, in its own memory: what shared memory says is
/// checked against it, so that a peer that scribbles on the slot cannot redirect our sends or
/// our notifications, nor hide a corruption.
pub const LocalSide = struct {
    /// This process holds this side of the channel (0 client, 1 server; a node that connects to
    /// its own service holds both).
    open: bool = false,
    /// The node at the other end, as of the connect or accept.
    peer: u32 = 0,
    /// The slot's generation as of the connect or accept: a slot freed and taken again by others
    /// has another.
    generation: u32 = 0,
};

/// A connection from this process to another node's doorbell socket, made on first use.
pub const Bell = struct {
    fd: sys.Fd = -1,
    /// The node generation the connection was made for: a new process in the slot has a new
    /// generation and a new socket, so the old connection is dropped.
    generation: u32 = 0,
};

pub const Domain = struct {
    fd: sys.Fd,
    base: [*]align(4096) u8,
    size: u64,
    /// Validated at attach time and never re-read from shared memory, so a peer that scribbles on
    /// the header cannot move our bounds.
    config: layout.Config,
    offsets: layout.Layout,
    backing: layout.Backing,
    /// This handle's node slot; meaningful once `joined`.
    node: u32,
    node_generation: u32,
    /// Set by the join: before it, `node` is no slot of ours, and no slot is skipped as our own.
    joined: bool = false,
    /// An inspector's handle (`xio_inspect`): mapped read-only, never joined. Only snapshots
    /// and closing take it.
    read_only: bool = false,
    cursors: [layout.class_count_max]u32 = .{ 0, 0, 0, 0 },
    channel_cursor: u32 = 0,
    dir: [path_bytes_max]u8 = undefined,
    dir_len: u32 = 0,
    name: [layout.name_bytes_max]u8 = undefined,
    name_len: u32 = 0,
    io: [io_words]u32 = @splat(0),
    events: [layout.channel_max_limit]u32 = undefined,
    lock_path: [path_bytes_max]u8 = undefined,
    lock_path_len: u32 = 0,
    /// Where doorbell sockets live: the lock file's directory, never a hugetlbfs mount.
    bell_dir: [path_bytes_max]u8 = undefined,
    bell_dir_len: u32 = 0,
    bells: [layout.node_max_limit]Bell = @splat(.{}),
    lock_timeout_ns: u64 = std.time.ns_per_s,
    trust: Options.Trust = .{},
    /// This process's record of its channels, by slot and side (see `LocalSide`).
    locals: [layout.channel_max_limit][2]LocalSide = @splat(@splat(.{})),
    /// Set when a notification of this handle rang a parked node's doorbell (see `xio_send`).
    rang: bool = false,

    pub fn setIdentity(d: *Domain, dir: []const u8, name: []const u8) void {
        assert(dir.len < path_bytes_max);
        assert(name.len <= layout.name_bytes_max);
        @memcpy(d.dir[0..dir.len], dir);
        d.dir_len = @intCast(dir.len);
        @memcpy(d.name[0..name.len], name);
        d.name_len = @intCast(name.len);
    }

    /// The handle's own invariants, asserted where the ABI hands it back to us: a joined node
    /// of a mapping whose bounds were validated at attach time.
    pub fn assertValid(d: *const Domain) void {
        assert(d.joined);
        assert(d.fd >= 0);
        assert(d.node < d.config.node_max);
        assert(d.config.node_max <= layout.node_max_limit);
        assert(d.config.channel_max <= layout.channel_max_limit);
        assert(d.config.channel_max % 64 == 0);
        assert(d.offsets.total_size == d.size);
        assert(d.dir_len < path_bytes_max and d.name_len <= layout.name_bytes_max);
    }

    /// The invariants of any handle, joined or read-only, for the calls that take both.
    pub fn assertReadable(d: *const Domain) void {
        assert(d.joined != d.read_only);
        assert(d.fd >= 0);
        assert(!d.joined or d.node < d.config.node_max);
        assert(d.config.node_max <= layout.node_max_limit);
        assert(d.config.channel_max <= layout.channel_max_limit);
        assert(d.offsets.total_size == d.size);
    }

    pub fn header(d: *const Domain) *layout.Header {
        return @ptrCast(d.base);
    }

    pub fn nodeAt(d: *const Domain, index: u32) *layout.Node {
        assert(index < d.config.node_max);
        return @ptrCast(@alignCast(d.base + d.offsets.nodes_offset + @as(u64, index) * @sizeOf(layout.Node)));
    }

    pub fn serviceAt(d: *const Domain, index: u32) *layout.Service {
        assert(index < d.config.service_max);
        return @ptrCast(@alignCast(d.base + d.offsets.services_offset + @as(u64, index) * @sizeOf(layout.Service)));
    }

    pub fn channelAt(d: *const Domain, index: u32) *layout.Channel {
        assert(index < d.config.channel_max);
        return @ptrCast(@alignCast(d.base + d.offsets.channels_offset + @as(u64, index) * @sizeOf(layout.Channel)));
    }

    /// Direction 0 carries client-to-server messages, direction 1 server-to-client.
    pub fn ringAt(d: *const Domain, chan: u32, direction: u32) Ring {
        assert(chan < d.config.channel_max);
        assert(direction < 2);
        const offset = d.offsets.rings_offset + @as(u64, chan) * d.offsets.ring_pair_bytes +
            direction * layout.ringBytes(d.config.ring_capacity);
        return Ring.init(d.base + offset, d.config.ring_capacity);
    }

    pub fn poolAt(d: *const Domain, class: u32) Pool {
        assert(class < d.config.class_count);
        const owners: [*]u32 = @ptrCast(@alignCast(d.base + d.offsets.owners_offset[class]));
        return Pool.init(owners, d.config.class_counts[class]);
    }

    pub fn eventWords(d: *const Domain, node: u32) [*]u64 {
        assert(node < d.config.node_max);
        const words = d.config.channel_max / 64;
        return @ptrCast(@alignCast(d.base + d.offsets.events_offset + @as(u64, node) * words * 8));
    }

    /// Serialises the control plane (joins, leaves, clean-ups, services) between processes. A
    /// handle is used by one thread, and two handles in one process are two open files whose
    /// OFD locks exclude each other, so no thread mutex is needed beside it. Waits at most the
    /// handle's lock timeout: a peer stopped (or malicious) with the lock held must not freeze
    /// everyone else's event loop.
    pub fn lockControl(d: *Domain) error{LockTimeout}!void {
        const locked = sys.lockWaitFor(d.fd, control_lock_byte, d.lock_timeout_ns) catch {
            // Only EBADF or EINVAL can get here; both mean a bug, not a peer's doing.
            @panic("xio: cannot take the domain's control lock");
        };
        if (!locked) return error.LockTimeout;
    }

    pub fn unlockControl(d: *Domain) void {
        sys.unlock(d.fd, control_lock_byte);
    }

    // The operations of the other files, as methods of the handle.
    pub const notify = events.notify;
    pub const bellTouch = events.bellTouch;
    pub const bellPath = events.bellPath;
    pub const bellReady = events.bellReady;
    pub const park = events.park;
    pub const unpark = events.unpark;
    pub const takeEvents = events.takeEvents;
    pub const hasEvents = events.hasEvents;
    pub const wakePoolWaiters = events.wakePoolWaiters;
    pub const probePeers = nodes.probePeers;
};

pub const open = file.open;
pub const inspect = file.inspect;
pub const gc = file.gc;
pub const GcResult = file.GcResult;
pub const openDetailed = file.openDetailed;
pub const leave = file.leave;
pub const validName = file.validName;
