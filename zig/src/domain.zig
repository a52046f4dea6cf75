//! A domain: one shared-memory file mapped by a set of cooperating processes, and this process's
//! handle on it. This file covers creating and attaching, nodes and their liveness, crash
//! clean-up, and the event bitmaps that wake nodes up. Channels are in channel.zig.

const std = @import("std");
const assert = std.debug.assert;
const sys = @import("sys.zig");
const layout = @import("layout.zig");
const Ring = @import("ring.zig").Ring;
const Pool = @import("pool.zig").Pool;
const channel = @import("channel.zig");

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
const control_lock_byte: u64 = 0;
fn nodeLockByte(node: u32) u64 {
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
const Bell = struct {
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
    node: u32,
    node_generation: u32,
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

    // Events and doorbells.
    //
    // A node learns of news through its event bitmap (bit c: channel c has news) and a summary
    // word (bit w: event word w may have bits set). Its JS drains them when its event loop runs.
    // While that loop may sleep, the node is `parked`, and a notifier wakes it by writing one byte
    // to the node's doorbell socket, which the loop waits on like any socket: one thread woken.
    //
    // The protocol, for a node R (receiver) and a notifier N:
    //
    //     R: store parked = 1            N: OR the event bit, OR the summary bit
    //     R: load summary (and pool)     N: swap parked with 0; if it was 1, write the byte
    //
    // Every access is seq_cst, so the four operations have one total order. Either R's store of
    // `parked` comes before N's swap, and N sees 1 and rings; or N's swap comes first, and then
    // N's OR of the summary came before it and R's load of the summary sees it, so R does not
    // go to sleep (it drains instead). A wake-up is never lost. A ring never happens twice for
    // one park: the swap hands it to exactly one notifier. R clears `parked` itself while it
    // polls, so that busy notifiers make no system calls.

    pub fn notify(d: *Domain, node: u32, chan: u32) void {
        assert(chan < d.config.channel_max);
        if (node >= d.config.node_max) return; // read from shared memory: never trust it
        const words = d.eventWords(node);
        const word = chan / 64;
        // seq_cst: the notifier's half of the protocol above.
        _ = @atomicRmw(u64, &words[word], .Or, @as(u64, 1) << @intCast(chan % 64), .seq_cst);
        const target = d.nodeAt(node);
        _ = @atomicRmw(u64, &target.summary, .Or, @as(u64, 1) << @intCast(word), .seq_cst);
        d.ring(node);
    }

    pub fn notifyPool(d: *Domain, node: u32) void {
        if (node >= d.config.node_max) return;
        const target = d.nodeAt(node);
        // seq_cst: the notifier's half of the protocol described above `notify`.
        @atomicStore(u32, &target.pool_event, 1, .seq_cst);
        d.ring(node);
    }

    /// Wakes node `index` through its doorbell socket if it is parked. See the protocol above
    /// `notify`: the caller has published its news with seq_cst operations.
    fn ring(d: *Domain, index: u32) void {
        assert(index < d.config.node_max);
        const target = d.nodeAt(index);
        // seq_cst: pairs with the receiver's store of `parked` in `park`. The load first keeps a
        // busy notifier off the line's exclusive state while the receiver is awake.
        if (@atomicLoad(u32, &target.parked, .seq_cst) == 0) return;
        if (@atomicRmw(u32, &target.parked, .Xchg, 0, .seq_cst) == 0) return;
        if (d.bellSend(index)) {
            d.rang = true;
            return;
        }
        // Nobody heard it. Leave the node parked, so that the next notifier tries again; the
        // node's own periodic drain (every few hundred ms) bounds the wait meanwhile.
        @atomicStore(u32, &target.parked, 1, .seq_cst);
    }

    /// Writes the wake-up byte to node `index`'s doorbell, connecting first if needed. Returns
    /// false if the doorbell cannot be reached now.
    fn bellSend(d: *Domain, index: u32) bool {
        const fd = d.bellFor(index) orelse return false;
        switch (sys.sendByte(fd)) {
            .sent => return true,
            .broken => {
                d.bellDrop(index);
                // The node may have bound a new socket (a new process in the slot): one retry.
                const again = d.bellFor(index) orelse return false;
                return sys.sendByte(again) == .sent;
            },
        }
    }

    /// A connection to node `index`'s doorbell, made now if there is none for its current
    /// process. Null if the node does not listen on one (yet, or any more).
    fn bellFor(d: *Domain, index: u32) ?sys.Fd {
        assert(index < d.config.node_max);
        const node = d.nodeAt(index);
        const status = @atomicLoad(u32, &node.status, .acquire);
        if (layout.nodeStatusState(status) != .active) return null;
        const generation = layout.nodeStatusGeneration(status);
        const bell = &d.bells[index];
        if (bell.fd >= 0 and bell.generation == generation) return bell.fd;
        d.bellDrop(index);
        // Acquire: pairs with the release in `bellReady`; the socket is bound and listening.
        if (@atomicLoad(u32, &node.bell_ready, .acquire) == 0) return null;
        var buffer: [path_bytes_max]u8 = undefined;
        const path = d.bellPath(&buffer, index) orelse return null;
        const fd = sys.unixConnect(path) orelse return null;
        bell.* = .{ .fd = fd, .generation = generation };
        return fd;
    }

    fn bellDrop(d: *Domain, index: u32) void {
        const bell = &d.bells[index];
        if (bell.fd >= 0) sys.close(bell.fd);
        bell.* = .{};
    }

    /// Connects to node `index`'s doorbell ahead of any ring, so that the node sees this
    /// process's death at once: the kernel closes the connection when a process dies.
    pub fn bellTouch(d: *Domain, index: u32) void {
        if (index >= d.config.node_max or index == d.node) return;
        _ = d.bellFor(index);
    }

    /// The path of node `index`'s doorbell socket: `<dir>/.xio-<name>.<node>.bell`, or with the
    /// name replaced by its hash when that would not fit in a socket address. Null if even that
    /// does not fit (the open refused such a directory).
    pub fn bellPath(d: *const Domain, buffer: *[path_bytes_max]u8, index: u32) ?[]const u8 {
        return bellPathIn(buffer, d.bell_dir[0..d.bell_dir_len], d.name[0..d.name_len], index);
    }

    /// Marks this node parked: its event loop may sleep, and notifiers must ring its doorbell.
    /// Returns true if news already waits (the caller should drain instead of sleeping).
    pub fn park(d: *Domain) bool {
        const me = d.nodeAt(d.node);
        // seq_cst: the receiver's half of the protocol described above `notify`.
        @atomicStore(u32, &me.parked, 1, .seq_cst);
        return d.hasEvents();
    }

    /// Clears this node's parked flag while it polls: notifiers then make no system calls.
    pub fn unpark(d: *Domain) void {
        @atomicStore(u32, &d.nodeAt(d.node).parked, 0, .seq_cst);
    }

    /// Tells notifiers that this node listens on its doorbell socket.
    pub fn bellReady(d: *Domain) void {
        // Release: pairs with the acquire in `bellFor`.
        @atomicStore(u32, &d.nodeAt(d.node).bell_ready, 1, .release);
    }

    /// Moves this node's pending events into `events` and returns how many channels have news.
    /// `io[1]` becomes 1 if a buffer we waited for was released.
    pub fn takeEvents(d: *Domain) u32 {
        const me = d.nodeAt(d.node);
        d.io[1] = @atomicRmw(u32, &me.pool_event, .Xchg, 0, .acquire);
        var summary = @atomicRmw(u64, &me.summary, .Xchg, 0, .acquire);
        const words = d.eventWords(d.node);
        var count: u32 = 0;
        while (summary != 0) {
            const word: u32 = @ctz(summary);
            summary &= summary - 1;
            if (word >= d.config.channel_max / 64) continue; // scribbled summary bit
            // Acquire pairs with the notifier's seq_cst OR: what it did before is visible.
            var bits = @atomicRmw(u64, &words[word], .Xchg, 0, .acquire);
            while (bits != 0) {
                const bit: u32 = @ctz(bits);
                bits &= bits - 1;
                d.events[count] = word * 64 + bit;
                count += 1;
            }
        }
        assert(count <= d.config.channel_max);
        return count;
    }

    pub fn hasEvents(d: *const Domain) bool {
        const me = d.nodeAt(d.node);
        return @atomicLoad(u64, &me.summary, .seq_cst) != 0 or
            @atomicLoad(u32, &me.pool_event, .seq_cst) != 0;
    }

    /// Wakes every node that waits for a buffer of `class`.
    pub fn wakePoolWaiters(d: *Domain, class: u32) void {
        const cls = &d.header().classes[class];
        for (&cls.waiting_nodes, 0..) |*word, w| {
            if (@atomicLoad(u64, word, .seq_cst) == 0) continue;
            var bits = @atomicRmw(u64, word, .Xchg, 0, .acq_rel);
            while (bits != 0) {
                const bit: u32 = @ctz(bits);
                bits &= bits - 1;
                d.notifyPool(@as(u32, @intCast(w)) * 64 + bit);
            }
        }
    }

    // Liveness and clean-up.

    /// Checks every other node's liveness lock and reclaims the dead. Returns how many it reclaimed.
    pub fn probePeers(d: *Domain) u32 {
        var suspects: u32 = 0;
        for (0..d.config.node_max) |i| {
            const index: u32 = @intCast(i);
            if (index == d.node) continue;
            const status = @atomicLoad(u32, &d.nodeAt(index).status, .acquire);
            if (layout.nodeStatusState(status) == .free) continue;
            if (!sys.lockHeld(d.fd, nodeLockByte(index))) suspects += 1;
        }
        if (suspects == 0) return 0;
        // A lock held too long: the next probe tries again.
        d.lockControl() catch return 0;
        defer d.unlockControl();
        return d.reclaimDeadLocked();
    }

    fn reclaimDeadLocked(d: *Domain) u32 {
        var reclaimed: u32 = 0;
        for (0..d.config.node_max) |i| {
            const index: u32 = @intCast(i);
            if (index == d.node) continue;
            const status = @atomicLoad(u32, &d.nodeAt(index).status, .acquire);
            if (layout.nodeStatusState(status) == .free) continue;
            // Under the control lock nobody joins or leaves, so a held lock means alive and a
            // free lock on a non-free slot means its process died (clean leavers free the slot
            // before they drop the lock).
            if (sys.lockHeld(d.fd, nodeLockByte(index))) continue;
            d.cleanupNodeLocked(index, status);
            reclaimed += 1;
        }
        return reclaimed;
    }

    /// Reclaims everything a dead node held. Idempotent, so a clean-up interrupted by the death of
    /// the cleaner is finished by the next one. Caller holds the control lock.
    fn cleanupNodeLocked(d: *Domain, index: u32, status: u32) void {
        const node = d.nodeAt(index);
        const generation = layout.nodeStatusGeneration(status);
        const cleaning = layout.nodeStatus(.cleaning, generation);
        if (@cmpxchgStrong(u32, &node.status, status, cleaning, .acq_rel, .acquire)) |seen| {
            if (seen != cleaning) return;
        }
        d.removeNodeLocked(index, true);
        _ = @atomicRmw(u64, &d.header().nodes_reclaimed, .Add, 1, .monotonic);
        // Release: the clean-up above is complete before anyone can take the slot again.
        @atomicStore(u32, &node.status, layout.nodeStatus(.free, generation +% 1), .release);
    }

    /// Unregisters a node's services, closes its channels and frees its buffers. `died` marks its
    /// channels reset rather than closed. Caller holds the control lock.
    fn removeNodeLocked(d: *Domain, index: u32, died: bool) void {
        for (0..d.config.service_max) |s| {
            const service = d.serviceAt(@intCast(s));
            if (@atomicLoad(u32, &service.state, .acquire) != @intFromEnum(layout.ServiceState.active)) continue;
            if (service.node != index) continue;
            channel.unregisterLocked(d, service);
        }
        for (0..d.config.channel_max) |c| channel.closeNodeSides(d, @intCast(c), index, died);
        const label = layout.ownerNode(index);
        for (0..d.config.class_count) |class| {
            const freed = d.poolAt(@intCast(class)).reclaim(label, labelEquals);
            if (freed > 0) d.wakePoolWaiters(@intCast(class));
        }
        const words = d.eventWords(index);
        for (0..d.config.channel_max / 64) |w| @atomicStore(u64, &words[w], 0, .monotonic);
        const node = d.nodeAt(index);
        @atomicStore(u64, &node.summary, 0, .monotonic);
        @atomicStore(u32, &node.pool_event, 0, .monotonic);
        @atomicStore(u32, &node.parked, 0, .monotonic);
        @atomicStore(u32, &node.bell_ready, 0, .monotonic);
        // Its doorbell socket goes with it. (Under the control lock, and before the slot is
        // free: a later process in the slot binds its own socket only after joining.)
        d.bellDrop(index);
        var buffer: [path_bytes_max]u8 = undefined;
        if (d.bellPath(&buffer, index)) |path| {
            buffer[path.len] = 0;
            sys.unlink(buffer[0..path.len :0]);
        }
        for (0..d.config.class_count) |class| {
            const cls = &d.header().classes[class];
            const bit = @as(u64, 1) << @intCast(index % 64);
            _ = @atomicRmw(u64, &cls.waiting_nodes[index / 64], .And, ~bit, .monotonic);
        }
    }

    fn joinLocked(d: *Domain, runtime: u32) Error!void {
        _ = d.reclaimDeadLocked();
        for (0..d.config.node_max) |i| {
            const index: u32 = @intCast(i);
            const node = d.nodeAt(index);
            const status = @atomicLoad(u32, &node.status, .acquire);
            if (layout.nodeStatusState(status) != .free) continue;
            const locked = sys.lockTry(d.fd, nodeLockByte(index)) catch return error.Io;
            if (!locked) continue;
            d.node = index;
            d.node_generation = layout.nodeStatusGeneration(status);
            node.pid = sys.getpid();
            node.runtime = runtime;
            @atomicStore(u64, &node.summary, 0, .monotonic);
            @atomicStore(u32, &node.pool_event, 0, .monotonic);
            @atomicStore(u32, &node.parked, 0, .monotonic);
            @atomicStore(u32, &node.bell_ready, 0, .monotonic);
            const words = d.eventWords(index);
            for (0..d.config.channel_max / 64) |w| @atomicStore(u64, &words[w], 0, .monotonic);
            // Release: the fields above are set before anyone sees the slot as active.
            @atomicStore(u32, &node.status, layout.nodeStatus(.active, d.node_generation), .release);
            return;
        }
        return error.Full;
    }

    /// Counts live nodes other than this one, reclaiming dead ones on the way.
    fn othersAliveLocked(d: *Domain) u32 {
        _ = d.reclaimDeadLocked();
        var alive: u32 = 0;
        for (0..d.config.node_max) |i| {
            const index: u32 = @intCast(i);
            if (index == d.node) continue;
            const status = @atomicLoad(u32, &d.nodeAt(index).status, .acquire);
            if (layout.nodeStatusState(status) != .free) alive += 1;
        }
        return alive;
    }

    fn pathOf(d: *const Domain, buffer: *[path_bytes_max]u8) [:0]const u8 {
        return domainPath(buffer, d.dir[0..d.dir_len], d.name[0..d.name_len]) catch unreachable;
    }
};

fn labelEquals(expected: u32, label: u32) bool {
    return label == expected;
}

/// `<dir>/.xio-<name>.<node>.bell`, or `<dir>/.xio-<16 hex digits>.<node>.bell` (a hash of the
/// name) when the first does not fit in a socket address. Null if neither fits.
fn bellPathIn(buffer: *[path_bytes_max]u8, dir: []const u8, name: []const u8, index: u32) ?[]const u8 {
    assert(index < layout.node_max_limit);
    const full = std.fmt.bufPrint(buffer, "{s}/.xio-{s}.{d}.bell", .{ dir, name, index }) catch null;
    if (full) |path| if (path.len <= sys.unix_path_bytes_max) return path;
    const hash = std.hash.Wyhash.hash(0, name);
    const short = std.fmt.bufPrint(buffer, "{s}/.xio-{x:0>16}.{d}.bell", .{ dir, hash, index }) catch return null;
    if (short.len > sys.unix_path_bytes_max) return null;
    return short;
}

/// Removes the doorbell socket files of nodes `0..node_max` (left by processes that died).
fn unlinkBells(dir: []const u8, name: []const u8, node_max: u32) void {
    var buffer: [path_bytes_max]u8 = undefined;
    var index: u32 = 0;
    while (index < node_max) : (index += 1) {
        const path = bellPathIn(&buffer, dir, name, index) orelse return;
        buffer[path.len] = 0;
        sys.unlink(buffer[0..path.len :0]);
    }
}

/// Names become file names, so they are kept to a safe alphabet: letters, digits, '-', '_', '.'
/// and ':' (no '/', no "..", no leading '.').
pub fn validName(name: []const u8) bool {
    if (name.len == 0 or name.len > layout.name_bytes_max) return false;
    if (name[0] == '.') return false;
    if (std.mem.indexOf(u8, name, "..") != null) return false;
    for (name) |ch| {
        const ok = std.ascii.isAlphanumeric(ch) or ch == '-' or ch == '_' or ch == '.' or ch == ':';
        if (!ok) return false;
    }
    return true;
}

fn domainPath(buffer: *[path_bytes_max]u8, dir: []const u8, name: []const u8) error{NameTooLong}![:0]const u8 {
    return std.mem.printSentinel(buffer, "{s}/xio-{s}", .{ dir, name }, 0) catch error.NameTooLong;
}

fn lockPath(buffer: *[path_bytes_max]u8, dir: []const u8, name: []const u8) error{NameTooLong}![:0]const u8 {
    return std.mem.printSentinel(buffer, "{s}/.xio-{s}.lock", .{ dir, name }, 0) catch error.NameTooLong;
}

/// Candidate directories in order of preference.
const Candidates = struct {
    dirs: [8][path_bytes_max]u8 = undefined,
    lens: [8]u32 = undefined,
    hugetlbfs: [8]bool = undefined,
    count: u32 = 0,
    /// The first directory that could not be used because someone else owns it (or it is not a
    /// directory), for the error.
    refused: ?Error = null,
    trust: Options.Trust = .{},

    fn add(c: *Candidates, dir: []const u8, hugetlbfs: bool) void {
        if (c.count == c.dirs.len or dir.len >= path_bytes_max - 80) return;
        @memcpy(c.dirs[c.count][0..dir.len], dir);
        c.lens[c.count] = @intCast(dir.len);
        c.hugetlbfs[c.count] = hugetlbfs;
        c.count += 1;
    }

    /// Adds this user's (or the trusted group's) directory under `base`, creating it if needed.
    fn addPrivate(c: *Candidates, base: []const u8, hugetlbfs: bool) void {
        if (c.count == c.dirs.len) return;
        const buffer = &c.dirs[c.count];
        const path = if (c.trust.group) |gid|
            std.mem.printSentinel(buffer, "{s}/xio-g{d}", .{ base, gid }, 0) catch return
        else
            std.mem.printSentinel(buffer, "{s}/xio-{d}", .{ base, sys.geteuid() }, 0) catch return;
        if (path.len >= path_bytes_max - 80) return;
        ensureDirectory(path, c.trust) catch |err| switch (err) {
            // Not ours to use (another user made it, or a file squats the name): an error,
            // unless a later store works and nobody squats there.
            error.ForeignOwner, error.NotRegular => {
                c.refused = c.refused orelse err;
                return;
            },
            // Read-only or full store, or no permission to create directories here: skip it.
            else => return,
        };
        c.lens[c.count] = @intCast(path.len);
        c.hugetlbfs[c.count] = hugetlbfs;
        c.count += 1;
    }

    fn get(c: *const Candidates, i: u32) []const u8 {
        return c.dirs[i][0..c.lens[i]];
    }

    fn visitMount(c: *Candidates, mount_point: []const u8) bool {
        c.addPrivate(mount_point, true);
        return false;
    }

    fn collect(options: Options) Error!Candidates {
        var c: Candidates = .{ .trust = options.trust };
        if (options.dir.len > 0) {
            c.add(options.dir, isHugetlbfsMount(options.dir));
            return c;
        }
        if (options.hugepages != .never) sys.forEachHugetlbfsMount(&c, visitMount);
        c.addPrivate("/dev/shm", false);
        c.addPrivate("/tmp", false);
        // A squatted directory is never passed over quietly: another process of this user that
        // found it free would use it, and the two would not meet.
        if (c.refused) |err| return err;
        if (c.count == 0) return error.PermissionDenied;
        return c;
    }

    /// Where the lock file lives: the same place whatever the backing, so creators serialize.
    fn lockDir(c: *const Candidates) []const u8 {
        var i: u32 = 0;
        while (i < c.count) : (i += 1) {
            if (!c.hugetlbfs[i]) return c.get(i);
        }
        return c.get(0);
    }
};

/// Creates `path` as this user's private directory (mode 0700), or the trusted group's (2770,
/// group-owned), or checks that the one already there is exactly that: a directory, not a
/// symlink, owned by this user (or of the group), and closed to everyone else.
fn ensureDirectory(path: [:0]const u8, trust: Options.Trust) Error!void {
    const mode: u32 = if (trust.group != null) 0o2770 else 0o700;
    sys.mkdir(path, mode) catch |err| switch (err) {
        error.AlreadyExists => {},
        else => return mapSys(err),
    };
    if (trust.group) |gid| {
        // A new directory takes our effective group: hand it to the trusted one.
        _ = std.os.linux.chown(path, std.math.maxInt(u32), gid);
    }
    const info = sys.lstat(path) catch |err| return mapSys(err);
    if (!info.isDirectory()) return error.NotRegular;
    if (trust.group) |gid| {
        if (info.gid != gid or info.mode & 0o007 != 0) return error.ForeignOwner;
        if (!trust.allows(info.uid, info.gid)) return error.ForeignOwner;
    } else {
        if (info.uid != sys.geteuid() or info.mode & 0o077 != 0) return error.ForeignOwner;
    }
}

fn isHugetlbfsMount(dir: []const u8) bool {
    const Finder = struct {
        target: []const u8,
        found: bool = false,
        fn visit(f: *@This(), mount_point: []const u8) bool {
            if (std.mem.eql(u8, std.mem.trimEnd(u8, f.target, "/"), mount_point)) f.found = true;
            return f.found;
        }
    };
    var finder: Finder = .{ .target = dir };
    sys.forEachHugetlbfsMount(&finder, Finder.visit);
    return finder.found;
}

/// Removes the files of domains whose every process died without leaving (no node's liveness
/// lock is held). Their last process could not unlink them, and a domain in /dev/shm is memory.
/// Each removal happens under that domain's own lock file, so it cannot race an opener.
fn sweepOrphans(candidates: *const Candidates, keep: []const u8) void {
    const Sweeper = struct {
        dir: []const u8,
        lock_dir: []const u8,
        keep: []const u8,
        trust: Options.Trust,
        fn visit(self: *@This(), entry: []const u8) bool {
            if (!std.mem.startsWith(u8, entry, "xio-")) return false;
            const name = entry[4..];
            if (std.mem.eql(u8, name, self.keep) or !validName(name)) return false;
            removeIfOrphan(self.dir, self.lock_dir, name, self.trust);
            return false;
        }
    };
    var path_buffer: [path_bytes_max]u8 = undefined;
    var i: u32 = 0;
    while (i < candidates.count) : (i += 1) {
        const dir = candidates.get(i);
        var sweeper: Sweeper = .{ .dir = dir, .lock_dir = candidates.lockDir(), .keep = keep, .trust = candidates.trust };
        sys.forEachEntry(dirZ(&path_buffer, dir), &sweeper, Sweeper.visit);
    }
}

fn removeIfOrphan(dir: []const u8, lock_dir: []const u8, name: []const u8, trust: Options.Trust) void {
    var lock_buffer: [path_bytes_max]u8 = undefined;
    const lock_path = lockPath(&lock_buffer, lock_dir, name) catch return;
    const lock_fd = sys.open(lock_path, false, 0) catch return; // no lock file: not ours to judge
    defer sys.close(lock_fd);
    if (!(sys.lockTry(lock_fd, 0) catch false)) return; // someone is opening or leaving it
    var path_buffer: [path_bytes_max]u8 = undefined;
    const path = domainPath(&path_buffer, dir, name) catch return;
    const fd = sys.open(path, false, 0) catch return;
    defer sys.close(fd);
    // Only files we would join are ours to remove.
    const info = sys.fstat(fd) catch return;
    if (!info.isRegular() or !trust.allows(info.uid, info.gid)) return;
    var header: layout.Header = undefined;
    readAll(fd, std.mem.asBytes(&header)) catch return;
    if (header.magic != layout.magic or header.version != layout.version) return;
    if (header.node_max == 0 or header.node_max > layout.node_max_limit) return;
    if (sys.lockHeld(fd, control_lock_byte)) return;
    var node: u32 = 0;
    while (node < header.node_max) : (node += 1) {
        if (sys.lockHeld(fd, nodeLockByte(node))) return;
    }
    unlinkBells(lock_dir, name, header.node_max);
    sys.unlink(path);
    sys.unlink(lock_path);
}

/// Why an open failed, beyond the error: the version found, or the size of a truncated file.
pub var last_detail: u32 = 0;

/// Opens (creating if allowed) and joins the domain `name`. Everything runs under the domain's
/// lock file, which also covers the last leaver's check-and-unlink in `leave`, so nobody can
/// join a file that is about to disappear.
pub fn open(name: []const u8, options: Options) Error!*Domain {
    if (!validName(name)) return error.InvalidName;
    if (options.dir.len >= path_bytes_max - 80) return error.InvalidName;
    const candidates = try Candidates.collect(options);
    sweepOrphans(&candidates, name);

    var lock_buffer: [path_bytes_max]u8 = undefined;
    const lock_path = lockPath(&lock_buffer, candidates.lockDir(), name) catch return error.InvalidName;
    var bell_buffer: [path_bytes_max]u8 = undefined;
    if (bellPathIn(&bell_buffer, candidates.lockDir(), name, layout.node_max_limit - 1) == null) {
        return error.PathTooLong;
    }
    const deadline = sys.nowNs() + options.lock_timeout_ns;
    var attempts: u32 = 0;
    while (attempts < 64) : (attempts += 1) {
        const lock_fd = try openLockFile(lock_path, options.mode, options.trust);
        defer sys.close(lock_fd);
        const now = sys.nowNs();
        const locked = sys.lockWaitFor(lock_fd, 0, if (deadline > now) deadline - now else 0) catch return error.Io;
        if (!locked) return error.LockTimeout;
        // The last leaver unlinks the lock file while holding it; if we waited on that old file,
        // start over on the new one.
        const info = sys.fstat(lock_fd) catch return error.Io;
        if (info.links == 0) continue;

        const domain = openLocked(name, options, &candidates) catch |err| {
            // Nothing was created: do not leave an orphan lock file behind. Unlinking it while we
            // hold it is safe, because openers re-check the link count after locking.
            if (!anyDomainFile(&candidates, name)) sys.unlink(lock_path);
            return err;
        };
        errdefer closeMapping(domain);
        @memcpy(domain.lock_path[0 .. lock_path.len + 1], lock_path.ptr[0 .. lock_path.len + 1]);
        domain.lock_path_len = @intCast(lock_path.len);
        const bell_dir = candidates.lockDir();
        @memcpy(domain.bell_dir[0..bell_dir.len], bell_dir);
        domain.bell_dir_len = @intCast(bell_dir.len);
        domain.lock_timeout_ns = options.lock_timeout_ns;
        domain.trust = options.trust;
        try domain.lockControl();
        defer domain.unlockControl();
        try domain.joinLocked(options.runtime);
        return domain;
    }
    return error.Busy;
}

fn anyDomainFile(candidates: *const Candidates, name: []const u8) bool {
    var path_buffer: [path_bytes_max]u8 = undefined;
    var i: u32 = 0;
    while (i < candidates.count) : (i += 1) {
        const path = domainPath(&path_buffer, candidates.get(i), name) catch continue;
        if (std.os.linux.errno(std.os.linux.access(path, 0)) == .SUCCESS) return true;
    }
    return false;
}

/// Creates the lock file, or opens the one there if it is a regular file of a trusted owner:
/// whoever owns it can hold it to keep everyone out, or delete it under a creator.
fn openLockFile(path: [:0]const u8, mode: u32, trust: Options.Trust) Error!sys.Fd {
    const fd = sys.open(path, true, mode) catch |err| switch (err) {
        error.AlreadyExists => {
            const existing = sys.open(path, false, 0) catch |e| return mapSys(e);
            errdefer sys.close(existing);
            const info = sys.fstat(existing) catch return error.Io;
            if (!info.isRegular()) return error.NotRegular;
            if (!trust.allows(info.uid, info.gid)) return error.ForeignOwner;
            return existing;
        },
        else => return mapSys(err),
    };
    sys.fchmod(fd, mode) catch {};
    return fd;
}

fn mapSys(err: sys.Error) Error {
    return switch (err) {
        error.NotFound => error.NotFound,
        error.NotRegular => error.NotRegular,
        error.PermissionDenied => error.PermissionDenied,
        error.NoSpace => error.NoSpace,
        else => error.Io,
    };
}

/// Runs with the creation lock held: attach to an existing domain file, or create one.
fn openLocked(name: []const u8, options: Options, candidates: *const Candidates) Error!*Domain {
    var path_buffer: [path_bytes_max]u8 = undefined;
    var i: u32 = 0;
    while (i < candidates.count) : (i += 1) {
        const path = domainPath(&path_buffer, candidates.get(i), name) catch return error.InvalidName;
        const fd = sys.open(path, false, 0) catch |err| switch (err) {
            error.NotFound => continue,
            else => return mapSys(err),
        };
        const domain = attach(fd, options) catch |err| switch (err) {
            error.Busy => {
                // A creator died before publishing the header. We hold the creation lock, so
                // nobody else is creating it now: remove the remains and create afresh.
                sys.close(fd);
                sys.unlink(path);
                return create(name, options, candidates);
            },
            else => {
                sys.close(fd);
                return err;
            },
        };
        domain.setIdentity(candidates.get(i), name);
        return domain;
    }
    if (!options.create) return error.NotFound;
    return create(name, options, candidates);
}

fn attach(fd: sys.Fd, options: Options) Error!*Domain {
    const info = sys.fstat(fd) catch return error.Io;
    // Before anything is read or mapped: a device or a FIFO is no domain, and a file of a user
    // we do not trust is not ours to join (see `Options.Trust`).
    if (!info.isRegular()) return error.NotRegular;
    if (!options.trust.allows(info.uid, info.gid)) return error.ForeignOwner;
    var header: layout.Header = std.mem.zeroes(layout.Header);
    const header_bytes: []u8 = std.mem.asBytes(&header);
    const readable: usize = @intCast(@min(info.size_bytes, header_bytes.len));
    readAll(fd, header_bytes[0..readable]) catch return error.Io;
    if (readable < 8 or header.magic == 0) return error.Busy;
    if (header.magic != layout.magic) return error.NotDomain;
    if (readable < 12) return error.Truncated;
    if (header.version != layout.version) {
        last_detail = header.version;
        return error.Version;
    }
    if (readable < header_bytes.len) return error.Truncated;

    var config: layout.Config = .{
        .node_max = header.node_max,
        .service_max = header.service_max,
        .channel_max = header.channel_max,
        .ring_capacity = header.ring_capacity,
        .class_count = header.class_count,
        .class_sizes = .{ 0, 0, 0, 0 },
        .class_counts = .{ 0, 0, 0, 0 },
    };
    for (0..layout.class_count_max) |c| {
        config.class_sizes[c] = header.classes[c].buffer_size;
        config.class_counts[c] = header.classes[c].buffer_count;
    }
    if (header.header_size != layout.header_bytes or !config.valid()) return error.Layout;
    const backing = std.enums.fromInt(layout.Backing, header.backing) orelse return error.Layout;
    const granule: u64 = if (backing == .hugetlbfs) sys.hugepage_size_bytes else layout.page_bytes;
    const offsets = layout.Layout.compute(config, granule);
    if (!layoutMatches(&header, offsets)) return error.Layout;
    if (header.total_size != offsets.total_size) return error.Layout;
    if (info.size_bytes < offsets.total_size) {
        last_detail = @intCast(@min(info.size_bytes, std.math.maxInt(u32)));
        return error.Truncated;
    }

    const base = sys.mapShared(fd, offsets.total_size) catch |err| return mapSys(err);
    const domain = newHandle(fd, base, config, offsets, backing) catch {
        sys.unmap(base, offsets.total_size);
        return error.NoSpace;
    };
    // Acquire pairs with the creator's release store of the magic: the layout it wrote is visible.
    assert(@atomicLoad(u64, &domain.header().magic, .acquire) == layout.magic);
    return domain;
}

fn layoutMatches(header: *const layout.Header, offsets: layout.Layout) bool {
    if (header.nodes_offset != offsets.nodes_offset) return false;
    if (header.events_offset != offsets.events_offset) return false;
    if (header.services_offset != offsets.services_offset) return false;
    if (header.channels_offset != offsets.channels_offset) return false;
    if (header.rings_offset != offsets.rings_offset) return false;
    if (header.ring_pair_bytes != offsets.ring_pair_bytes) return false;
    if (header.event_words != header.channel_max / 64) return false;
    for (0..layout.class_count_max) |c| {
        if (header.classes[c].owners_offset != offsets.owners_offset[c]) return false;
        if (header.classes[c].data_offset != offsets.data_offset[c]) return false;
    }
    return true;
}

fn readAll(fd: sys.Fd, buffer: []u8) !void {
    var done: usize = 0;
    while (done < buffer.len) {
        const rc = std.os.linux.pread(fd, buffer[done..].ptr, buffer.len - done, @intCast(done));
        if (std.os.linux.errno(rc) != .SUCCESS) return error.Io;
        if (rc == 0) return error.Io;
        done += rc;
    }
}

fn create(name: []const u8, options: Options, candidates: *const Candidates) Error!*Domain {
    if (!options.config.valid()) return error.InvalidConfig;
    var path_buffer: [path_bytes_max]u8 = undefined;
    var i: u32 = 0;
    while (i < candidates.count) : (i += 1) {
        const hugetlbfs = candidates.hugetlbfs[i];
        if (options.hugepages == .require and !hugetlbfs) break;
        const granule: u64 = if (hugetlbfs) sys.hugepage_size_bytes else layout.page_bytes;
        const offsets = layout.Layout.compute(options.config, granule);
        if (hugetlbfs) {
            const pages = offsets.total_size / sys.hugepage_size_bytes;
            if (sys.hugepagesAvailable() < pages) {
                continue;
            }
        }
        const dir = candidates.get(i);
        if (!hugetlbfs and options.dir.len == 0 and !sys.writable(dirZ(&path_buffer, dir))) continue;
        const path = domainPath(&path_buffer, dir, name) catch return error.InvalidName;
        const domain = createAt(path, options, offsets, hugetlbfs) catch |err| switch (err) {
            // Not enough room or no permission here: fall back to the next store.
            error.NoSpace, error.PermissionDenied => {
                continue;
            },
            else => return err,
        };
        domain.setIdentity(dir, name);
        return domain;
    }
    if (options.hugepages == .require) return error.HugepagesUnavailable;
    return error.NoSpace;
}

fn dirZ(buffer: *[path_bytes_max]u8, dir: []const u8) [:0]const u8 {
    return std.mem.printSentinel(buffer, "{s}", .{dir}, 0) catch unreachable;
}

fn createAt(path: [:0]const u8, options: Options, offsets: layout.Layout, hugetlbfs: bool) Error!*Domain {
    const fd = sys.open(path, true, options.mode) catch |err| return mapSys(err);
    errdefer {
        sys.unlink(path);
        sys.close(fd);
    }
    sys.fchmod(fd, options.mode) catch |err| return mapSys(err);
    sys.ftruncate(fd, offsets.total_size) catch |err| return mapSys(err);
    // Reserve every page now: an exhausted /dev/shm or hugepage pool fails here, not as a SIGBUS
    // on some later first touch.
    sys.fallocate(fd, offsets.total_size) catch |err| switch (err) {
        error.InvalidArgument => {}, // file systems without fallocate: MAP_POPULATE still faults
        else => return mapSys(err),
    };
    const base = sys.mapShared(fd, offsets.total_size) catch |err| return mapSys(err);
    errdefer sys.unmap(base, offsets.total_size);

    var backing: layout.Backing = if (hugetlbfs) .hugetlbfs else .shm;
    if (!hugetlbfs) {
        const in_shm = std.mem.startsWith(u8, path, "/dev/shm/");
        const advised = sys.adviseHugepage(base, offsets.total_size);
        backing = if (!in_shm) .file else if (advised and sys.shmemThpAdvisable()) .shm_thp else .shm;
    }

    const header: *layout.Header = @ptrCast(base);
    const config = options.config;
    header.version = layout.version;
    header.header_size = layout.header_bytes;
    header.total_size = offsets.total_size;
    header.creator_pid = sys.getpid();
    header.backing = @intFromEnum(backing);
    header.node_max = config.node_max;
    header.service_max = config.service_max;
    header.channel_max = config.channel_max;
    header.ring_capacity = config.ring_capacity;
    header.class_count = config.class_count;
    header.event_words = config.channel_max / 64;
    header.nodes_offset = offsets.nodes_offset;
    header.events_offset = offsets.events_offset;
    header.services_offset = offsets.services_offset;
    header.channels_offset = offsets.channels_offset;
    header.rings_offset = offsets.rings_offset;
    header.ring_pair_bytes = offsets.ring_pair_bytes;
    for (0..layout.class_count_max) |c| {
        header.classes[c].buffer_size = if (c < config.class_count) config.class_sizes[c] else 0;
        header.classes[c].buffer_count = if (c < config.class_count) config.class_counts[c] else 0;
        header.classes[c].owners_offset = offsets.owners_offset[c];
        header.classes[c].data_offset = offsets.data_offset[c];
    }
    // A fresh file reads as zeroes, which is the initial state of every other structure.
    // Release: everything above is visible to whoever sees the magic (acquire in `attach`).
    @atomicStore(u64, &header.magic, layout.magic, .release);

    return newHandle(fd, base, config, offsets, backing) catch error.NoSpace;
}

/// The process-local handle on a mapped domain; joined to no node yet.
fn newHandle(
    fd: sys.Fd,
    base: [*]align(4096) u8,
    config: layout.Config,
    offsets: layout.Layout,
    backing: layout.Backing,
) error{OutOfMemory}!*Domain {
    const domain = try std.heap.c_allocator.create(Domain);
    domain.* = .{
        .fd = fd,
        .base = base,
        .size = offsets.total_size,
        .config = config,
        .offsets = offsets,
        .backing = backing,
        .node = 0,
        .node_generation = 0,
    };
    return domain;
}

fn closeMapping(domain: *Domain) void {
    for (0..domain.bells.len) |index| domain.bellDrop(@intCast(index));
    sys.unmap(domain.base, domain.size);
    sys.close(domain.fd);
    std.heap.c_allocator.destroy(domain);
}

/// Leaves the domain: closes this node's channels, unregisters its services, frees its buffers,
/// and removes the files if it was the last node. The handle is freed.
pub fn leave(domain: *Domain) void {
    const lock_path = domain.lock_path[0..domain.lock_path_len :0];
    var lock_fd: ?sys.Fd = openLockFile(lock_path, 0o600, domain.trust) catch null;
    if (lock_fd) |fd| {
        const locked = sys.lockWaitFor(fd, 0, domain.lock_timeout_ns) catch false;
        if (!locked) {
            sys.close(fd);
            lock_fd = null; // clean up all the same; only the removal of the files needs it
        }
    }
    domain.lockControl() catch {
        // Someone holds the control plane for too long: leave without cleaning up. Once the
        // mapping's descriptor closes, our liveness lock drops, and the next probe of any
        // survivor reclaims this node as it would a dead one.
        if (lock_fd) |fd| sys.close(fd);
        closeMapping(domain);
        return;
    };
    const node = domain.nodeAt(domain.node);
    domain.removeNodeLocked(domain.node, false);
    // Release: our clean-up is visible before the slot reads as free; the lock drops after.
    @atomicStore(u32, &node.status, layout.nodeStatus(.free, domain.node_generation +% 1), .release);
    sys.unlock(domain.fd, nodeLockByte(domain.node));
    const last = lock_fd != null and domain.othersAliveLocked() == 0;
    if (last) {
        var path_buffer: [path_bytes_max]u8 = undefined;
        sys.unlink(domain.pathOf(&path_buffer));
        sys.unlink(lock_path);
    }
    domain.unlockControl();
    if (lock_fd) |fd| sys.close(fd);
    closeMapping(domain);
}

