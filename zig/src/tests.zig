//! Fuzz, stress and integration tests of the native core. Seeds and operation counts come from
//! build options (`zig build test -Dfuzz-seed=N -Dfuzz-ops=N`); a zero seed is taken from the
//! clock, and every failure prints the seed to replay it.

const std = @import("std");
const options = @import("options");
const testing = std.testing;
const assert = std.debug.assert;
const sys = @import("sys.zig");
const layout = @import("layout.zig");
const ring = @import("ring.zig");
const pool = @import("pool.zig");
const domain_mod = @import("domain.zig");
const channel = @import("channel.zig");
const buffers = @import("buffer.zig");
const fuzz = @import("fuzz.zig");

fn seed() u64 {
    return if (options.fuzz_seed != 0) options.fuzz_seed else sys.nowNs();
}

/// Runs `fuzz` in rounds of fresh random shapes (capacity, pool size) until `fuzz_ops` operations
/// are done. Round r uses seed `base + r`, which the failure message prints.
fn fuzzRounds(comptime run: fn (u64, u64) anyerror!void) !void {
    const base = seed();
    var done: u64 = 0;
    var round: u64 = 0;
    while (done < options.fuzz_ops) : (round += 1) {
        const batch = @min(options.fuzz_ops - done, 20_000);
        try run(base +% round, batch);
        done += batch;
    }
}

test "ring matches a FIFO model over a million seeded operations" {
    try fuzzRounds(ring.fuzzRing);
}

test "pool matches an owner-array model over a million seeded operations" {
    try fuzzRounds(pool.fuzzPool);
}

test "ring delivers every item once and in order between two threads" {
    // Capacities at both ends: 2 keeps each side waiting on the other at every item.
    const base = seed();
    for ([_]u32{ 2, 8, 256 }, 0..) |capacity, i| {
        try ring.stressRing(base +% i, capacity, @max(options.fuzz_ops / 2, 10_000));
    }
}

test "pool free list survives four threads hammering it" {
    try pool.stressPool(4, 20_000);
}

// Integration: two handles in one process are two nodes (two open file descriptions, so their
// OFD locks exclude each other). Closing one handle's descriptor without leaving is, to the
// other node, exactly what a SIGKILL looks like.

const test_dir = "/tmp";

fn testOptions() domain_mod.Options {
    return .{
        .dir = test_dir,
        .hugepages = .never,
        .config = .{
            .node_max = 8,
            .service_max = 8,
            .channel_max = 64,
            .ring_capacity = 8,
            .class_count = 2,
            .class_sizes = .{ 256, 4096, 0, 0 },
            .class_counts = .{ 32, 4, 0, 0 },
        },
    };
}

fn uniqueName(buffer: []u8) []const u8 {
    return std.mem.print(buffer, "zigtest-{d}-{d}", .{ sys.getpid(), sys.nowNs() }) catch unreachable;
}

fn freeCount(d: *domain_mod.Domain, class: u32) u32 {
    return d.poolAt(class).countFree();
}

/// Simulates a crash: drops the descriptor (and with it every OFD lock) without leaving.
fn crash(d: *domain_mod.Domain) void {
    sys.close(d.fd);
    sys.unmap(d.base, d.size);
    std.heap.c_allocator.destroy(d);
}

test "two nodes exchange a buffer and the channel ends with EOF" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    const server = try domain_mod.open(name, testOptions());
    const client = try domain_mod.open(name, testOptions());
    try testing.expect(server.node != client.node);

    const service = try channel.listen(server, "echo");
    try testing.expectError(error.InUse, channel.listen(client, "echo"));
    try testing.expectError(error.NotFound, channel.connect(client, "nobody"));
    const chan = try channel.connect(client, "echo");
    try testing.expectEqual(service, try channel.accept(server, chan));

    const id = try buffers.alloc(client, 100);
    try testing.expectEqual(@as(u32, 31), freeCount(client, 0));
    const sent = try channel.sendMany(client, chan, 0, &[_]u32{ id, 100 });
    try testing.expectEqual(@as(u32, 1), sent);
    var out: [2]u32 = undefined;
    try testing.expectEqual(@as(u32, 1), try channel.recvMany(server, chan, 1, &out));
    try testing.expectEqual(id, out[0]);
    try testing.expectEqual(@as(u32, 100), out[1]);
    try buffers.release(server, id);
    try testing.expectError(error.Invalid, buffers.release(server, id));

    try channel.closeWrite(client, chan, 0);
    try testing.expectError(error.Closed, channel.recvMany(server, chan, 1, &out));
    try channel.close(client, chan, 0);
    try channel.close(server, chan, 1);
    try testing.expectEqual(@as(u32, 0), @atomicLoad(u32, &client.channelAt(chan).status, .acquire));
    try testing.expectEqual(@as(u32, 32), freeCount(client, 0));
    domain_mod.leave(client);
    domain_mod.leave(server);
}

test "a full ring and an empty pool report would-block" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    const a = try domain_mod.open(name, testOptions());
    defer domain_mod.leave(a);
    _ = try channel.listen(a, "sink");
    const chan = try channel.connect(a, "sink");
    for (0..8) |_| {
        const id = try buffers.alloc(a, 10);
        try testing.expectEqual(@as(u32, 1), try channel.sendMany(a, chan, 0, &[_]u32{ id, 10 }));
    }
    const extra = try buffers.alloc(a, 10);
    try testing.expectError(error.WouldBlock, channel.sendMany(a, chan, 0, &[_]u32{ extra, 10 }));
    try testing.expect(!try channel.armSend(a, chan, 0, 0));
    try testing.expect(!try channel.armSend(a, chan, 0, 8));
    try testing.expectEqual(@as(u32, 8), try channel.pending(a, chan, 0));
    for (0..4) |_| _ = try buffers.alloc(a, 4000);
    try testing.expectError(error.WouldBlock, buffers.alloc(a, 4000));
    try testing.expectError(error.TooBig, buffers.alloc(a, 4097));
}

test "a killed node's buffers, services and channels are reclaimed" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    const survivor = try domain_mod.open(name, testOptions());
    defer domain_mod.leave(survivor);
    const victim = try domain_mod.open(name, testOptions());
    _ = try channel.listen(survivor, "svc");
    _ = try channel.listen(victim, "victim-svc");
    const chan = try channel.connect(victim, "svc");
    _ = try channel.accept(survivor, chan);
    // The victim holds two buffers, has one in flight, and one labelled but never pushed.
    _ = try buffers.alloc(victim, 10);
    const inflight = try buffers.alloc(victim, 10);
    _ = try channel.sendMany(victim, chan, 0, &[_]u32{ inflight, 10 });
    const half_sent = try buffers.alloc(victim, 10);
    try testing.expect(victim.poolAt(0).transfer(layout.bufferIndex(half_sent), layout.ownerNode(victim.node), layout.ownerInflight(chan, 0)));
    try testing.expectEqual(@as(u32, 29), freeCount(survivor, 0));

    crash(victim);
    try testing.expectEqual(@as(u32, 1), survivor.probePeers());
    var out: [2]u32 = undefined;
    try testing.expectError(error.Reset, channel.recvMany(survivor, chan, 1, &out));
    try testing.expectError(error.NotFound, channel.connect(survivor, "victim-svc"));
    // Buffers held by the victim come back at once; those in flight when its peer closes.
    try testing.expectEqual(@as(u32, 30), freeCount(survivor, 0));
    try channel.close(survivor, chan, 1);
    try testing.expectEqual(@as(u32, 32), freeCount(survivor, 0));
}

test "a node that joins reclaims a dead node 0, so its service can be listened on again" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    const first = try domain_mod.open(name, testOptions());
    try testing.expectEqual(@as(u32, 0), first.node);
    _ = try channel.listen(first, "svc");
    crash(first);
    // Nobody probed: the join itself must see that slot 0 is dead (a handle that has not joined
    // yet has no slot of its own to skip).
    const second = try domain_mod.open(name, testOptions());
    defer domain_mod.leave(second);
    _ = try channel.listen(second, "svc");
    try testing.expectEqual(@as(u64, 1), second.header().nodes_reclaimed);
}

test "a forged descriptor poisons the channel instead of reaching memory" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    const a = try domain_mod.open(name, testOptions());
    defer domain_mod.leave(a);
    _ = try channel.listen(a, "svc");
    const chan = try channel.connect(a, "svc");
    _ = try channel.accept(a, chan);
    var out: [2]u32 = undefined;
    // A buffer index past the end of its class.
    try channel.debugPlant(a, chan, 0, layout.descriptor(layout.bufferId(0, 31) + 100, 10));
    try testing.expectError(error.Corrupt, channel.recvMany(a, chan, 1, &out));
    try testing.expectError(error.Reset, channel.recvMany(a, chan, 1, &out));
    try testing.expectEqual(@as(u64, 1), a.header().corrupt_descriptors);
}

test "a valid buffer that is not in flight on this channel is rejected" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    const a = try domain_mod.open(name, testOptions());
    defer domain_mod.leave(a);
    _ = try channel.listen(a, "svc");
    const chan = try channel.connect(a, "svc");
    _ = try channel.accept(a, chan);
    const id = try buffers.alloc(a, 10); // held by us, not in flight
    try channel.debugPlant(a, chan, 0, layout.descriptor(id, 10));
    var out: [2]u32 = undefined;
    try testing.expectError(error.Corrupt, channel.recvMany(a, chan, 1, &out));
    // The forged descriptor did not move the buffer: it is still ours to send.
    try testing.expectEqual(@as(u32, 1), try channel.sendMany(a, try channel.connect(a, "svc"), 0, &[_]u32{ id, 10 }));
}

test "attach refuses foreign, truncated and wrong-version files" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    var path_buffer: [256]u8 = undefined;
    const path = try std.mem.printSentinel(&path_buffer, "{s}/xio-{s}", .{ test_dir, name }, 0);
    defer sys.unlink(path);

    const fd = try sys.open(path, true, 0o600);
    var junk: [64]u8 = @splat(0xab);
    _ = std.os.linux.pwrite(fd, &junk, junk.len, 0);
    try testing.expectError(error.NotDomain, domain_mod.open(name, testOptions()));

    var header = std.mem.zeroes(layout.Header);
    header.magic = layout.magic;
    header.version = 7;
    _ = std.os.linux.pwrite(fd, std.mem.asBytes(&header), @sizeOf(layout.Header), 0);
    var detail: u32 = 0;
    try testing.expectError(error.Version, domain_mod.openDetailed(name, testOptions(), &detail));
    try testing.expectEqual(@as(u32, 7), detail);
    sys.close(fd);
    sys.unlink(path);

    // A real domain, cut short.
    const d = try domain_mod.open(name, testOptions());
    const size = d.size;
    const fd2 = try sys.open(path, false, 0);
    crash(d);
    try sys.ftruncate(fd2, size / 2);
    sys.close(fd2);
    try testing.expectError(error.Truncated, domain_mod.open(name, testOptions()));
}

test "names with slashes, dots or no characters are refused" {
    try testing.expect(!domain_mod.validName(""));
    try testing.expect(!domain_mod.validName("a/b"));
    try testing.expect(!domain_mod.validName(".."));
    try testing.expect(!domain_mod.validName("a..b"));
    try testing.expect(!domain_mod.validName(".hidden"));
    const long: [65]u8 = @splat('x');
    try testing.expect(!domain_mod.validName(&long));
    try testing.expect(domain_mod.validName("orders.v2:eu-1_a"));
    try testing.expectError(error.InvalidName, domain_mod.open("../etc", testOptions()));
}

test "the last node to leave removes the domain file" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    var path_buffer: [256]u8 = undefined;
    const path = try std.mem.printSentinel(&path_buffer, "{s}/xio-{s}", .{ test_dir, name }, 0);
    const a = try domain_mod.open(name, testOptions());
    const b = try domain_mod.open(name, testOptions());
    domain_mod.leave(a);
    try testing.expect(std.os.linux.errno(std.os.linux.access(path, 0)) == .SUCCESS);
    domain_mod.leave(b);
    try testing.expect(std.os.linux.errno(std.os.linux.access(path, 0)) == .NOENT);
}

test "a domain whose processes all died is swept by the next open" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    var path_buffer: [256]u8 = undefined;
    const path = try std.mem.printSentinel(&path_buffer, "{s}/xio-{s}", .{ test_dir, name }, 0);
    crash(try domain_mod.open(name, testOptions()));
    try testing.expect(std.os.linux.errno(std.os.linux.access(path, 0)) == .SUCCESS);
    var other_buffer: [64]u8 = undefined;
    const other = try std.mem.print(&other_buffer, "{s}-x", .{name});
    const d = try domain_mod.open(other, testOptions());
    defer domain_mod.leave(d);
    try testing.expect(std.os.linux.errno(std.os.linux.access(path, 0)) == .NOENT);
}

// A model of the channel state machine, with nodes killed at random points.
//
// Up to four nodes (handles) in one domain each serve one service. Seeded random operations
// (weights drawn per seed) open nodes, connect, allocate, send, receive, release, close, and kill
// nodes, some of them in the middle of a send (the buffer labelled in flight, its descriptor
// never pushed). A plain model says what each call must return, and after every step every
// owner word of the pool must be what the model says: held by a live node, in flight on an open
// channel, or free. Nothing a kill leaves behind may stay lost.

const model_slots = 4;

const ModelChannel = struct {
    index: u32,
    /// The slot of each side's node: 0 client, 1 server.
    slot: [2]u32,
    open: [2]bool = .{ true, true },
    reset: bool = false,
    /// The buffer ids in flight, by direction (0: client to server), oldest first.
    queue: [2]std.ArrayList(u32) = .{ .empty, .empty },
    /// A buffer labelled in flight by a node killed before it pushed the descriptor.
    half_sent: ?u32 = null,
};

const ChannelModel = struct {
    name: []const u8,
    seed: u64,
    step: u64 = 0,
    nodes: [model_slots]?*domain_mod.Domain = @splat(null),
    held: [model_slots]std.ArrayList(u32) = @splat(.empty),
    channels: std.ArrayList(ModelChannel) = .empty,
    /// Killed handles not yet reclaimed by a survivor's probe.
    unprobed: bool = false,

    const allocator = testing.allocator;

    fn deinit(m: *ChannelModel) void {
        for (&m.held) |*h| h.deinit(allocator);
        for (m.channels.items) |*c| {
            c.queue[0].deinit(allocator);
            c.queue[1].deinit(allocator);
        }
        m.channels.deinit(allocator);
    }

    fn fail(m: *const ChannelModel, comptime what: []const u8, args: anytype) error{ModelMismatch} {
        std.debug.print("channel model mismatch at step {d} (replay with seed {d}): ", .{ m.step, m.seed });
        std.debug.print(what ++ "\n", args);
        return error.ModelMismatch;
    }

    fn serviceName(buffer: []u8, slot: u32) []const u8 {
        return std.fmt.bufPrint(buffer, "svc-{d}", .{slot}) catch unreachable;
    }

    fn live(m: *const ChannelModel, random: std.Random) ?u32 {
        var slots: [model_slots]u32 = undefined;
        var n: u32 = 0;
        for (m.nodes, 0..) |node, s| if (node != null) {
            slots[n] = @intCast(s);
            n += 1;
        };
        return if (n == 0) null else slots[random.uintLessThan(u32, n)];
    }

    /// A channel with an open side on a live node, and that side.
    fn openSide(m: *const ChannelModel, random: std.Random) ?struct { c: usize, side: u32 } {
        if (m.channels.items.len == 0) return null;
        const start = random.uintLessThan(usize, m.channels.items.len);
        for (0..m.channels.items.len) |k| {
            const c = (start + k) % m.channels.items.len;
            const first = random.uintLessThan(u32, 2);
            for ([_]u32{ first, 1 - first }) |side| {
                const chan = &m.channels.items[c];
                if (chan.open[side] and m.nodes[chan.slot[side]] != null) return .{ .c = c, .side = side };
            }
        }
        return null;
    }

    fn takeHeld(m: *ChannelModel, slot: u32, random: std.Random) ?u32 {
        const h = &m.held[slot];
        if (h.items.len == 0) return null;
        return h.swapRemove(random.uintLessThan(usize, h.items.len));
    }

    /// Drops channel `c` from the model once both its sides are gone: its buffers are free.
    fn retireIfClosed(m: *ChannelModel, c: usize) void {
        const chan = &m.channels.items[c];
        if (chan.open[0] or chan.open[1]) return;
        chan.queue[0].deinit(allocator);
        chan.queue[1].deinit(allocator);
        _ = m.channels.swapRemove(c);
    }

    fn open(m: *ChannelModel) !void {
        for (m.nodes, 0..) |node, s| {
            if (node != null) continue;
            // A new node reclaims the dead on its way in, as a new process does.
            const d = try domain_mod.open(m.name, testOptions());
            m.unprobed = false;
            var buffer: [16]u8 = undefined;
            _ = try channel.listen(d, serviceName(&buffer, @intCast(s)));
            m.nodes[s] = d;
            return;
        }
    }

    fn connect(m: *ChannelModel, random: std.Random) !void {
        const client = m.live(random) orelse return;
        const server = m.live(random) orelse return;
        var buffer: [16]u8 = undefined;
        const index = channel.connect(m.nodes[client].?, serviceName(&buffer, server)) catch |err| switch (err) {
            error.Full => return,
            else => return m.fail("connect from slot {d} to slot {d}: {s}", .{ client, server, @errorName(err) }),
        };
        _ = channel.accept(m.nodes[server].?, index) catch |err| return m.fail("accept: {s}", .{@errorName(err)});
        try m.channels.append(allocator, .{ .index = index, .slot = .{ client, server } });
    }

    fn alloc(m: *ChannelModel, random: std.Random) !void {
        const slot = m.live(random) orelse return;
        const d = m.nodes[slot].?;
        const id = buffers.alloc(d, 1 + random.uintLessThan(u32, 256)) catch |err| {
            if (err == error.WouldBlock and freeCount(d, 0) == 0) return;
            return m.fail("alloc: {s} with {d} free", .{ @errorName(err), freeCount(d, 0) });
        };
        try m.held[slot].append(allocator, id);
    }

    fn send(m: *ChannelModel, random: std.Random) !void {
        const at = m.openSide(random) orelse return;
        const chan = &m.channels.items[at.c];
        const slot = chan.slot[at.side];
        const id = m.takeHeld(slot, random) orelse return;
        const result = channel.sendMany(m.nodes[slot].?, chan.index, at.side, &[_]u32{ id, 1 });
        const queue = &chan.queue[at.side];
        if (result) |sent| {
            if (sent != 1 or chan.reset or !chan.open[1 - at.side]) return m.fail("send returned {d}", .{sent});
            try queue.append(allocator, id);
            return;
        } else |err| {
            try m.held[slot].append(allocator, id);
            const expected = chan.reset and err == error.Reset or
                !chan.reset and !chan.open[1 - at.side] and err == error.Pipe or
                !chan.reset and chan.open[1 - at.side] and err == error.WouldBlock and queue.items.len == 8;
            if (!expected) return m.fail("send: {s} (reset {}, peer open {}, {d} queued)", .{ @errorName(err), chan.reset, chan.open[1 - at.side], queue.items.len });
        }
    }

    fn recv(m: *ChannelModel, random: std.Random) !void {
        const at = m.openSide(random) orelse return;
        const chan = &m.channels.items[at.c];
        const slot = chan.slot[at.side];
        const queue = &chan.queue[1 - at.side];
        var out: [2]u32 = undefined;
        if (channel.recvMany(m.nodes[slot].?, chan.index, at.side, &out)) |got| {
            if (got != 1 or chan.reset or queue.items.len == 0) return m.fail("recv returned {d}", .{got});
            const want = queue.orderedRemove(0);
            if (out[0] != want) return m.fail("recv gave buffer {d}, {d} was next", .{ out[0], want });
            try m.held[slot].append(allocator, out[0]);
        } else |err| {
            const empty = queue.items.len == 0;
            const expected = chan.reset and err == error.Reset or
                !chan.reset and empty and !chan.open[1 - at.side] and err == error.Closed or
                !chan.reset and empty and chan.open[1 - at.side] and err == error.WouldBlock;
            if (!expected) return m.fail("recv: {s} (reset {}, peer open {}, {d} queued)", .{ @errorName(err), chan.reset, chan.open[1 - at.side], queue.items.len });
        }
    }

    fn release(m: *ChannelModel, random: std.Random) !void {
        const slot = m.live(random) orelse return;
        const id = m.takeHeld(slot, random) orelse return;
        buffers.release(m.nodes[slot].?, id) catch |err| return m.fail("release: {s}", .{@errorName(err)});
    }

    fn close(m: *ChannelModel, random: std.Random) !void {
        const at = m.openSide(random) orelse return;
        const chan = &m.channels.items[at.c];
        channel.close(m.nodes[chan.slot[at.side]].?, chan.index, at.side) catch |err| return m.fail("close: {s}", .{@errorName(err)});
        chan.open[at.side] = false;
        // What was sent to the closing side and not read is given back at once.
        chan.queue[1 - at.side].clearRetainingCapacity();
        m.retireIfClosed(at.c);
    }

    /// Kills a node, at rest or in the middle of a send.
    fn kill(m: *ChannelModel, random: std.Random) !void {
        const slot = m.live(random) orelse return;
        const d = m.nodes[slot].?;
        if (random.boolean()) half: {
            const at = m.openSide(random) orelse break :half;
            const chan = &m.channels.items[at.c];
            if (chan.slot[at.side] != slot or chan.half_sent != null) break :half;
            const id = m.takeHeld(slot, random) orelse break :half;
            const label = layout.ownerInflight(chan.index, at.side);
            if (!d.poolAt(0).transfer(layout.bufferIndex(id), layout.ownerNode(d.node), label)) {
                return m.fail("half send of {d}", .{id});
            }
            chan.half_sent = id;
        }
        crash(d);
        m.nodes[slot] = null;
        m.held[slot].clearRetainingCapacity();
        var c: usize = m.channels.items.len;
        while (c > 0) {
            c -= 1;
            const chan = &m.channels.items[c];
            var hit = false;
            for (0..2) |side| if (chan.slot[side] == slot and chan.open[side]) {
                chan.open[side] = false;
                hit = true;
            };
            if (!hit) continue;
            if (chan.open[0] or chan.open[1]) chan.reset = true;
            m.retireIfClosed(c);
        }
        m.unprobed = true;
        if (m.live(random)) |survivor| {
            _ = m.nodes[survivor].?.probePeers();
            m.unprobed = false;
        }
    }

    /// Every owner word of the pool is what the model says.
    fn check(m: *ChannelModel) !void {
        if (m.unprobed) return; // nobody alive has reclaimed the dead yet
        const d = for (m.nodes) |node| {
            if (node) |n| break n;
        } else return;
        const count = d.config.class_counts[0];
        var expected: [32]u32 = @splat(layout.owner_free);
        assert(count <= expected.len);
        for (m.held, 0..) |h, slot| for (h.items) |id| {
            expected[layout.bufferIndex(id)] = layout.ownerNode(m.nodes[slot].?.node);
        };
        for (m.channels.items) |chan| {
            for (0..2) |direction| for (chan.queue[direction].items) |id| {
                expected[layout.bufferIndex(id)] = layout.ownerInflight(chan.index, @intCast(direction));
            };
        }
        const buffer_pool = d.poolAt(0);
        for (0..count) |i| {
            const actual = buffer_pool.owner(@intCast(i));
            const half = for (m.channels.items) |chan| {
                if (chan.half_sent) |id| if (layout.bufferIndex(id) == i) break chan.index;
            } else null;
            if (half) |index| {
                // Labelled in flight on its channel, with no descriptor: only the clean-up after
                // the channel is torn down can give it back.
                if (!layout.ownerIsInflightOn(actual, index)) return m.fail("half-sent buffer {d} has owner {x}", .{ i, actual });
            } else if (actual != expected[i]) {
                return m.fail("buffer {d} has owner {x}, the model says {x}", .{ i, actual, expected[i] });
            }
        }
    }
};

fn fuzzChannels(seed_value: u64, operations: u64) !void {
    var prng = std.Random.DefaultPrng.init(seed_value);
    const random = prng.random();
    var name_buffer: [64]u8 = undefined;
    var m: ChannelModel = .{ .name = uniqueName(&name_buffer), .seed = seed_value };
    defer m.deinit();
    const weights = fuzz.Weights(9).draw(random);
    try m.open();
    while (m.step < operations) : (m.step += 1) {
        switch (weights.pick(random)) {
            0 => try m.open(),
            1 => try m.connect(random),
            2 => try m.alloc(random),
            3 => try m.send(random),
            4 => try m.recv(random),
            5 => try m.release(random),
            6 => try m.close(random),
            7 => if (random.uintLessThan(u32, 4) == 0) try m.kill(random),
            8 => try m.alloc(random),
            else => unreachable,
        }
        try m.check();
    }
    // Everyone leaves; a last node then finds every buffer and channel slot free.
    for (&m.nodes) |*node| if (node.*) |d| {
        domain_mod.leave(d);
        node.* = null;
    };
    for (m.channels.items) |*c| {
        c.queue[0].clearRetainingCapacity();
        c.queue[1].clearRetainingCapacity();
    }
    const last = try domain_mod.open(m.name, testOptions());
    defer domain_mod.leave(last);
    if (freeCount(last, 0) != last.config.class_counts[0]) return m.fail("{d} buffers free at the end", .{freeCount(last, 0)});
    for (0..last.config.channel_max) |c| {
        if (@atomicLoad(u32, &last.channelAt(@intCast(c)).status, .acquire) != 0) return m.fail("channel {d} left open", .{c});
    }
}

test "channels match a model while nodes are killed at random points" {
    const base = seed();
    var done: u64 = 0;
    var round: u64 = 0;
    while (done < options.fuzz_ops / 10) : (round += 1) {
        const batch = @min(options.fuzz_ops / 10 - done, 2_000);
        try fuzzChannels(base +% round, batch);
        done += batch;
    }
}

const abi = @import("abi.zig");
const inspect = @import("inspect.zig");

fn snapshotOf(d: *domain_mod.Domain, out: []f64, names: []u8) ![]f64 {
    const words = try inspect.snapshot(d, out, names);
    return out[0..words];
}

test "a read-only inspector sees nodes, services, counters and the pool census, and takes no node" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    var path_buffer: [256]u8 = undefined;
    const path = try std.mem.printSentinel(&path_buffer, "{s}/xio-{s}", .{ test_dir, name }, 0);
    const server = try domain_mod.open(name, testOptions());
    defer domain_mod.leave(server);
    const client = try domain_mod.open(name, testOptions());
    _ = try channel.listen(server, "echo");
    const chan = try channel.connect(client, "echo");
    _ = try channel.accept(server, chan);
    var bytes_sent: u64 = 0;
    for (0..5) |i| {
        const length: u32 = @intCast(10 + i * 30);
        const id = try buffers.alloc(client, length);
        _ = try channel.sendMany(client, chan, 0, &[_]u32{ id, length });
        bytes_sent += length;
    }
    var out_pair: [2]u32 = undefined;
    _ = try channel.recvMany(server, chan, 1, &out_pair); // received, held by the server
    const back = try buffers.alloc(server, 4000);
    _ = try channel.sendMany(server, chan, 1, &[_]u32{ back, 4000 });

    var detail: u32 = 0;
    const inspector = try domain_mod.inspect(path, &detail);
    defer @import("file.zig").closeInspector(inspector);
    var out: [4096]f64 = undefined;
    var names: [8 * 64]u8 = undefined;
    try testing.expectError(error.TooSmall, inspect.snapshot(inspector, out[0..10], &names));
    const snap = try snapshotOf(inspector, &out, &names);
    try testing.expectEqual(@as(f64, -1), snap[abi.Snap.self_node]);
    try testing.expectEqual(@as(f64, 2), snap[abi.Snap.nodes]);
    try testing.expectEqual(@as(f64, 1), snap[abi.Snap.services]);
    try testing.expectEqual(@as(f64, 1), snap[abi.Snap.channels]);
    var at: usize = abi.Snap.words;
    for (0..2) |_| {
        try testing.expectEqual(@as(f64, 1), snap[at + abi.SnapNode.alive]);
        try testing.expectEqual(@as(f64, @floatFromInt(sys.getpid())), snap[at + abi.SnapNode.pid]);
        at += abi.SnapNode.words;
    }
    try testing.expectEqualStrings("echo", names[0..@intFromFloat(snap[at + abi.SnapService.name_len])]);
    at += abi.SnapService.words;
    try testing.expectEqual(@as(f64, 5), snap[at + abi.SnapChannel.c2s_messages]);
    try testing.expectEqual(@as(f64, @floatFromInt(bytes_sent)), snap[at + abi.SnapChannel.c2s_bytes]);
    try testing.expectEqual(@as(f64, 4), snap[at + abi.SnapChannel.c2s_fill]);
    try testing.expectEqual(@as(f64, 1), snap[at + abi.SnapChannel.s2c_messages]);
    try testing.expectEqual(@as(f64, 4000), snap[at + abi.SnapChannel.s2c_bytes]);
    at += abi.SnapChannel.words;
    // Class 0: four in flight to the server, one held by it; class 1: one in flight back.
    try testing.expectEqual(@as(f64, 32 - 5), snap[at + abi.SnapClass.free]);
    try testing.expectEqual(@as(f64, 1), snap[at + abi.SnapClass.held]);
    try testing.expectEqual(@as(f64, 4), snap[at + abi.SnapClass.inflight]);
    try testing.expectEqual(@as(f64, 1), snap[at + abi.SnapClass.words + abi.SnapClass.inflight]);

    // The client dies: the inspector sees it dead, and what it held as held by the dead.
    const held = try buffers.alloc(client, 10);
    _ = held;
    crash(client);
    const after = try snapshotOf(inspector, &out, &names);
    try testing.expectEqual(@as(f64, 2), after[abi.Snap.nodes]);
    const dead = abi.Snap.words + abi.SnapNode.words; // the client joined second
    try testing.expectEqual(@as(f64, 0), after[dead + abi.SnapNode.alive]);
    const class0 = abi.Snap.words + 2 * abi.SnapNode.words + abi.SnapService.words + abi.SnapChannel.words;
    try testing.expectEqual(@as(f64, 1), after[class0 + abi.SnapClass.held_dead]);
    // Inspecting took no slot: the table holds the same nodes through a joined handle.
    const own = try snapshotOf(server, &out, &names);
    try testing.expectEqual(@as(f64, 2), own[abi.Snap.nodes]);
    try testing.expectEqual(@as(f64, @floatFromInt(server.node)), own[abi.Snap.self_node]);
}

test "an inspector of a file its owner truncated says so instead of faulting" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    var path_buffer: [256]u8 = undefined;
    const path = try std.mem.printSentinel(&path_buffer, "{s}/xio-{s}", .{ test_dir, name }, 0);
    const d = try domain_mod.open(name, testOptions());
    defer domain_mod.leave(d);
    var detail: u32 = 0;
    const inspector = try domain_mod.inspect(path, &detail);
    defer @import("file.zig").closeInspector(inspector);
    var out: [4096]f64 = undefined;
    var names: [8 * 64]u8 = undefined;
    _ = try inspect.snapshot(inspector, &out, &names);
    try sys.ftruncate(d.fd, 4096);
    try testing.expectError(error.Truncated, inspect.snapshot(inspector, &out, &names));
    try sys.ftruncate(d.fd, d.size);
}

test "an inspector refuses what is not a domain file" {
    var detail: u32 = 0;
    try testing.expectError(error.NotFound, domain_mod.inspect("/tmp/xio-no-such-domain-here", &detail));
    try testing.expectError(error.NotRegular, domain_mod.inspect("/tmp", &detail));
    var name_buffer: [64]u8 = undefined;
    var path_buffer: [256]u8 = undefined;
    const path = try std.mem.printSentinel(&path_buffer, "{s}/xio-{s}", .{ test_dir, uniqueName(&name_buffer) }, 0);
    const fd = try sys.open(path, true, 0o600);
    defer sys.unlink(path);
    defer sys.close(fd);
    _ = std.os.linux.write(fd, "not a domain, only some text".ptr, 28);
    try testing.expectError(error.NotDomain, domain_mod.inspect(path, &detail));
}

test "gc reclaims dead nodes of a live domain, removes a dead one, and is safe to repeat" {
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    var path_buffer: [256]u8 = undefined;
    const path = try std.mem.printSentinel(&path_buffer, "{s}/xio-{s}", .{ test_dir, name }, 0);
    const survivor = try domain_mod.open(name, testOptions());
    crash(try domain_mod.open(name, testOptions()));
    const dry = try domain_mod.gc(name, testOptions(), true);
    try testing.expectEqual(abi.Gc.reclaimed, dry.action);
    try testing.expectEqual(@as(u32, 1), dry.count);
    const done = try domain_mod.gc(name, testOptions(), false);
    try testing.expectEqual(abi.Gc.reclaimed, done.action);
    try testing.expectEqual(@as(u32, 1), done.count);
    try testing.expectEqual(abi.Gc.nothing, (try domain_mod.gc(name, testOptions(), false)).action);
    try testing.expectEqual(@as(u64, 1), survivor.header().nodes_reclaimed);

    crash(survivor);
    try testing.expectEqual(abi.Gc.removed, (try domain_mod.gc(name, testOptions(), true)).action);
    try testing.expect(std.os.linux.errno(std.os.linux.access(path, 0)) == .SUCCESS);
    try testing.expectEqual(abi.Gc.removed, (try domain_mod.gc(name, testOptions(), false)).action);
    try testing.expect(std.os.linux.errno(std.os.linux.access(path, 0)) == .NOENT);
    try testing.expectError(error.NotFound, domain_mod.gc(name, testOptions(), false));
    var lock_buffer: [256]u8 = undefined;
    const lock = try std.mem.printSentinel(&lock_buffer, "{s}/.xio-{s}.lock", .{ test_dir, name }, 0);
    try testing.expect(std.os.linux.errno(std.os.linux.access(lock, 0)) == .NOENT);
}

test "snapshots of a domain scribbled over at random stay in bounds" {
    const base_seed = seed();
    var prng = std.Random.DefaultPrng.init(base_seed);
    const random = prng.random();
    var name_buffer: [64]u8 = undefined;
    const name = uniqueName(&name_buffer);
    var path_buffer: [256]u8 = undefined;
    const path = try std.mem.printSentinel(&path_buffer, "{s}/xio-{s}", .{ test_dir, name }, 0);
    const d = try domain_mod.open(name, testOptions());
    _ = try channel.listen(d, "svc");
    const chan = try channel.connect(d, "svc");
    _ = try channel.accept(d, chan);
    var detail: u32 = 0;
    const inspector = try domain_mod.inspect(path, &detail);
    var out: [8192]f64 = undefined;
    var names: [8 * 64]u8 = undefined;
    const bytes = d.base[0..d.size];
    for (0..300) |round| {
        // A burst of random bytes anywhere, the header included: the inspector's bounds come
        // from the layout it validated on open, never from what it reads now.
        const at = random.uintLessThan(usize, bytes.len);
        const len = @min(random.uintLessThan(usize, 512) + 1, bytes.len - at);
        random.bytes(bytes[at..][0..len]);
        const words = inspect.snapshot(inspector, &out, &names) catch |err| {
            std.debug.print("seed {d}, round {d}: {}\n", .{ base_seed, round, err });
            return err;
        };
        try testing.expect(words <= inspect.wordsMax(inspector));
        try testing.expect(out[abi.Snap.nodes] <= @as(f64, @floatFromInt(inspector.config.node_max)));
        try testing.expect(out[abi.Snap.channels] <= @as(f64, @floatFromInt(inspector.config.channel_max)));
    }
    @import("file.zig").closeInspector(inspector);
    crash(d);
    sys.unlink(path);
}
