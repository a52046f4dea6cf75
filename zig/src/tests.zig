//! Fuzz, stress and integration tests of the native core. Seeds and operation counts come from
//! build options (`zig build test -Dfuzz-seed=N -Dfuzz-ops=N`); a zero seed is taken from the
//! clock, and every failure prints the seed to replay it.

const std = @import("std");
const options = @import("options");
const testing = std.testing;
const sys = @import("sys.zig");
const layout = @import("layout.zig");
const ring = @import("ring.zig");
const pool = @import("pool.zig");
const domain_mod = @import("domain.zig");
const channel = @import("channel.zig");

fn seed() u64 {
    return if (options.fuzz_seed != 0) options.fuzz_seed else sys.nowNs();
}

/// Runs `fuzz` in rounds of fresh random shapes (capacity, pool size) until `fuzz_ops` operations
/// are done. Round r uses seed `base + r`, which the failure message prints.
fn fuzzRounds(comptime fuzz: fn (u64, u64) anyerror!void) !void {
    const base = seed();
    var done: u64 = 0;
    var round: u64 = 0;
    while (done < options.fuzz_ops) : (round += 1) {
        const batch = @min(options.fuzz_ops - done, 20_000);
        try fuzz(base +% round, batch);
        done += batch;
    }
}

test "ring matches a FIFO model over a million seeded operations" {
    try fuzzRounds(ring.fuzzRing);
}

test "pool matches an owner-array model over a million seeded operations" {
    try fuzzRounds(pool.fuzzPool);
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

    const id = try channel.alloc(client, 100);
    try testing.expectEqual(@as(u32, 31), freeCount(client, 0));
    const sent = try channel.sendMany(client, chan, 0, &[_]u32{ id, 100 });
    try testing.expectEqual(@as(u32, 1), sent);
    var out: [2]u32 = undefined;
    try testing.expectEqual(@as(u32, 1), try channel.recvMany(server, chan, 1, &out));
    try testing.expectEqual(id, out[0]);
    try testing.expectEqual(@as(u32, 100), out[1]);
    try channel.release(server, id);
    try testing.expectError(error.Invalid, channel.release(server, id));

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
        const id = try channel.alloc(a, 10);
        try testing.expectEqual(@as(u32, 1), try channel.sendMany(a, chan, 0, &[_]u32{ id, 10 }));
    }
    const extra = try channel.alloc(a, 10);
    try testing.expectError(error.WouldBlock, channel.sendMany(a, chan, 0, &[_]u32{ extra, 10 }));
    try testing.expect(!try channel.armSend(a, chan, 0, 0));
    try testing.expect(!try channel.armSend(a, chan, 0, 8));
    try testing.expectEqual(@as(u32, 8), try channel.pending(a, chan, 0));
    for (0..4) |_| _ = try channel.alloc(a, 4000);
    try testing.expectError(error.WouldBlock, channel.alloc(a, 4000));
    try testing.expectError(error.TooBig, channel.alloc(a, 4097));
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
    _ = try channel.alloc(victim, 10);
    const inflight = try channel.alloc(victim, 10);
    _ = try channel.sendMany(victim, chan, 0, &[_]u32{ inflight, 10 });
    const half_sent = try channel.alloc(victim, 10);
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
    const id = try channel.alloc(a, 10); // held by us, not in flight
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
    try testing.expectError(error.Version, domain_mod.open(name, testOptions()));
    try testing.expectEqual(@as(u32, 7), domain_mod.last_detail);
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
