//! Events and doorbells: how a node learns that a channel has news, and how a node whose event
//! loop sleeps is woken. The wake-up protocol is stated once, below; every other place that
//! publishes news or parks refers to it.

const std = @import("std");
const assert = std.debug.assert;
const sys = @import("sys.zig");
const layout = @import("layout.zig");
const domain_mod = @import("domain.zig");
const Domain = domain_mod.Domain;
const path_bytes_max = domain_mod.path_bytes_max;

// A node learns of news through its event bitmap (bit c: channel c has news) and a summary
// word (bit w: event word w may have bits set). Its JS drains them when its event loop runs.
// While that loop may sleep, the node is `parked`, and a notifier wakes it by writing one byte
// to the node's doorbell socket, which the loop waits on like any socket: one thread woken.
//
// The wake-up protocol: store mine, then load yours.
//
// Every wait in the library follows one pattern, between a waiter W, which is about to wait for
// some news, and a publisher P, which makes that news:
//
//     W1: store waiting = 1          P1: publish the news
//     W2: load the news              P2: swap waiting with 0; if it was 1, wake W
//
// All four accesses are seq_cst, so they fall in one total order, and W2 or P2 comes last:
//
//     W1 W2 P1 P2    P2 comes after W1, sees 1 and wakes W (which found no news and waits).
//     W1 P1 W2 P2    P2 sees 1 and wakes W; W2 also saw the news, so W is woken needlessly once.
//     W1 P1 P2 W2    P2 sees 1 and wakes W; W2 saw the news: one needless wake-up.
//     P1 W1 W2 P2    W2 sees the news and W does not wait; P2 still sees 1: one needless wake-up.
//     P1 W1 P2 W2    as above.
//     P1 P2 W1 W2    P2 sees 0 and does not wake; W2 comes after P1 and sees the news.
//
// In no order do both W2 miss the news and P2 miss the flag, so no wake-up is lost. Acquire and
// release would not do: they order each side's own two accesses against the other side's, but
// a store followed by a load of another word may still be reordered (store buffering), and
// then W2 and P2 could both read the old values. The swap in P2 hands a wake-up to exactly one
// publisher, so a wait is never woken twice; W clears its flag itself while it polls, so that
// busy publishers make no system calls. The instances:
//
// | W, waiting for          | flag (W1)                         | news (P1)                       |
// | ----------------------- | --------------------------------- | ------------------------------- |
// | a node, any news        | `Node.parked` in `park`           | event and summary bits (notify) |
// | a receiver, a message   | `consumer_waiting` in `armRecv`   | the ring's `tail` (`pushMany`)  |
// | a sender, ring room     | `producer_waiting` in `armSend`   | the ring's `head` (`consume`)   |
// | an allocator, a buffer  | `waiting_nodes` bit in `armAlloc` | a free owner word (`release`)   |
//
// and, with roles that are not a wait, a connect against the clean-up of its server: the client
// stores the channel open and then loads the server's status; a clean-up stores `cleaning` and
// then scans the channels. One of the two sees the other.
//
// Here W is the node and P any notifier; P's wake-up is one byte written to W's doorbell socket.

pub fn notify(d: *Domain, node: u32, chan: u32) void {
    assert(chan < d.config.channel_max);
    if (node >= d.config.node_max) return; // read from shared memory: never trust it
    const words = d.eventWords(node);
    const word = chan / 64;
    // P1 of the wake-up protocol above.
    _ = @atomicRmw(u64, &words[word], .Or, @as(u64, 1) << @intCast(chan % 64), .seq_cst);
    const target = d.nodeAt(node);
    _ = @atomicRmw(u64, &target.summary, .Or, @as(u64, 1) << @intCast(word), .seq_cst);
    ring(d, node);
}

fn notifyPool(d: *Domain, node: u32) void {
    if (node >= d.config.node_max) return;
    const target = d.nodeAt(node);
    // P1 of the wake-up protocol (above `notify`).
    @atomicStore(u32, &target.pool_event, 1, .seq_cst);
    ring(d, node);
}

/// Wakes node `index` through its doorbell socket if it is parked: P2 of the wake-up protocol
/// (above `notify`), after the caller published its news.
fn ring(d: *Domain, index: u32) void {
    assert(index < d.config.node_max);
    const target = d.nodeAt(index);
    // P2. The load first keeps a
    // busy notifier off the line's exclusive state while the receiver is awake.
    if (@atomicLoad(u32, &target.parked, .seq_cst) == 0) return;
    if (@atomicRmw(u32, &target.parked, .Xchg, 0, .seq_cst) == 0) return;
    if (bellSend(d, index)) {
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
    const fd = bellFor(d, index) orelse return false;
    switch (sys.sendByte(fd)) {
        .sent => return true,
        .broken => {
            bellDrop(d, index);
            // The node may have bound a new socket (a new process in the slot): one retry.
            const again = bellFor(d, index) orelse return false;
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
    bellDrop(d, index);
    // Acquire: pairs with the release in `bellReady`; the socket is bound and listening.
    if (@atomicLoad(u32, &node.bell_ready, .acquire) == 0) return null;
    var buffer: [path_bytes_max]u8 = undefined;
    const path = bellPath(d, &buffer, index, generation) orelse return null;
    const fd = sys.unixConnect(path) orelse return null;
    bell.* = .{ .fd = fd, .generation = generation };
    return fd;
}

pub fn bellDrop(d: *Domain, index: u32) void {
    const bell = &d.bells[index];
    if (bell.fd >= 0) sys.close(bell.fd);
    bell.* = .{};
}

/// Connects to node `index`'s doorbell ahead of any ring, so that the node sees this
/// process's death at once: the kernel closes the connection when a process dies.
pub fn bellTouch(d: *Domain, index: u32) void {
    if (index >= d.config.node_max or index == d.node) return;
    _ = bellFor(d, index);
}

/// The path of the doorbell socket of node `index` in its incarnation `generation` (see
/// `bellPathIn`). Null if it does not fit in a socket address (the open refused such a
/// directory).
pub fn bellPath(d: *const Domain, buffer: *[path_bytes_max]u8, index: u32, generation: u32) ?[]const u8 {
    return bellPathIn(buffer, d.bell_dir[0..d.bell_dir_len], d.name[0..d.name_len], index, generation);
}

/// Marks this node parked: its event loop may sleep, and notifiers must ring its doorbell.
/// Returns true if news already waits (the caller should drain instead of sleeping).
pub fn park(d: *Domain) bool {
    const me = d.nodeAt(d.node);
    // W1 of the wake-up protocol (above `notify`); `hasEvents` is W2.
    @atomicStore(u32, &me.parked, 1, .seq_cst);
    return hasEvents(d);
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
            notifyPool(d, @as(u32, @intCast(w)) * 64 + bit);
        }
    }
}

/// `<dir>/.xio-<name>.<node>-<generation>.bell`, or with the name replaced by 16 hex digits of
/// its hash when that does not fit in a socket address. Null if neither fits.
///
/// The generation is the node slot's: each process that takes the slot has a socket of its own.
/// Deno and Bun both unlink a UNIX socket's path when its listener closes, and Deno does so
/// later, when the accept loop lets the listener go: by then the leaver has freed its slot and
/// a new process may have bound the slot's socket. With one path per slot, that late unlink
/// removed the newcomer's socket, whose peers could then no longer wake it.
pub fn bellPathIn(buffer: *[path_bytes_max]u8, dir: []const u8, name: []const u8, index: u32, generation: u32) ?[]const u8 {
    assert(index < layout.node_max_limit);
    const full = std.fmt.bufPrint(buffer, "{s}/.xio-{s}.{d}-{d}.bell", .{ dir, name, index, generation }) catch null;
    if (full) |path| if (path.len <= sys.unix_path_bytes_max) return path;
    const short = std.fmt.bufPrint(buffer, "{s}/.xio-{x:0>16}.{d}-{d}.bell", .{ dir, nameHash(name), index, generation }) catch return null;
    if (short.len > sys.unix_path_bytes_max) return null;
    return short;
}

/// The largest generation a node slot has (`layout.nodeStatus` keeps 30 bits of it).
pub const generation_max: u32 = std.math.maxInt(u32) >> 2;

fn nameHash(name: []const u8) u64 {
    return std.hash.Wyhash.hash(0, name);
}

/// Removes every doorbell socket file of domain `name` in `dir`, of any node and generation
/// (left by processes that died).
pub fn unlinkBells(dir: []const u8, name: []const u8) void {
    const Remover = struct {
        dir: []const u8,
        name: []const u8,
        hash: [16]u8,
        fn visit(self: *@This(), entry: []const u8) bool {
            if (!isBellOf(entry, self.name) and !isBellOf(entry, &self.hash)) return false;
            var buffer: [path_bytes_max]u8 = undefined;
            const path = std.fmt.bufPrintSentinel(&buffer, "{s}/{s}", .{ self.dir, entry }, 0) catch return false;
            sys.unlink(path);
            return false;
        }
    };
    var remover: Remover = .{ .dir = dir, .name = name, .hash = undefined };
    _ = std.fmt.bufPrint(&remover.hash, "{x:0>16}", .{nameHash(name)}) catch unreachable;
    var dir_buffer: [path_bytes_max]u8 = undefined;
    const dir_z = std.fmt.bufPrintSentinel(&dir_buffer, "{s}", .{dir}, 0) catch return;
    sys.forEachEntry(dir_z, &remover, Remover.visit);
}

/// Whether `entry` is `.xio-<key>.<digits>-<digits>.bell`.
fn isBellOf(entry: []const u8, key: []const u8) bool {
    const prefix = ".xio-";
    const suffix = ".bell";
    if (entry.len < prefix.len + key.len + 1 + 3 + suffix.len) return false;
    if (!std.mem.startsWith(u8, entry, prefix) or !std.mem.endsWith(u8, entry, suffix)) return false;
    if (!std.mem.eql(u8, entry[prefix.len..][0..key.len], key)) return false;
    if (entry[prefix.len + key.len] != '.') return false;
    const middle = entry[prefix.len + key.len + 1 .. entry.len - suffix.len];
    const dash = std.mem.indexOfScalar(u8, middle, '-') orelse return false;
    if (dash == 0 or dash == middle.len - 1) return false;
    for (middle, 0..) |ch, i| if (i != dash and !std.ascii.isDigit(ch)) return false;
    return true;
}

test "doorbell paths carry the slot's generation, and only a domain's own are matched" {
    var buffer: [path_bytes_max]u8 = undefined;
    try std.testing.expectEqualStrings("/d/.xio-a.3-7.bell", bellPathIn(&buffer, "/d", "a", 3, 7).?);
    try std.testing.expect(isBellOf(".xio-a.3-7.bell", "a"));
    try std.testing.expect(!isBellOf(".xio-a.b.3-7.bell", "a"));
    try std.testing.expect(isBellOf(".xio-a.b.3-7.bell", "a.b"));
    try std.testing.expect(!isBellOf(".xio-a.3.bell", "a"));
    try std.testing.expect(!isBellOf(".xio-a.lock", "a"));
    try std.testing.expect(!isBellOf(".xio-a.3-x.bell", "a"));
}
