//! Native costs without any FFI: `zig build bench -Doptimize=ReleaseSafe`. One process, one
//! thread, both ends of a channel in a temporary domain. Prints one JSON line of ns per operation.

const std = @import("std");
const sys = @import("sys.zig");
const domain_mod = @import("domain.zig");
const channel = @import("channel.zig");
const buffers = @import("buffer.zig");

const rounds: u64 = 2_000_000;

pub fn main() !void {
    var name_buffer: [64]u8 = undefined;
    const name = try std.fmt.bufPrint(&name_buffer, "zigbench-{d}", .{sys.getpid()});
    const d = try domain_mod.open(name, .{ .hugepages = .never });
    defer domain_mod.leave(d);
    _ = try channel.listen(d, "bench");
    const chan = try channel.connect(d, "bench");
    _ = try channel.accept(d, chan);

    var start = sys.nowNs();
    for (0..rounds) |_| try buffers.release(d, try buffers.alloc(d, 64));
    const alloc_release = @as(f64, @floatFromInt(sys.nowNs() - start)) / rounds;

    var pair: [2]u32 = undefined;
    start = sys.nowNs();
    for (0..rounds) |_| {
        const id = try buffers.alloc(d, 64);
        _ = try channel.sendMany(d, chan, 0, &[_]u32{ id, 64 });
        _ = try channel.recvMany(d, chan, 1, &pair);
        try buffers.release(d, pair[0]);
    }
    const message = @as(f64, @floatFromInt(sys.nowNs() - start)) / rounds;

    var batch: [512]u32 = undefined;
    var out: [512]u32 = undefined;
    start = sys.nowNs();
    var moved: u64 = 0;
    while (moved < rounds) {
        for (0..256) |i| {
            batch[2 * i] = try buffers.alloc(d, 64);
            batch[2 * i + 1] = 64;
        }
        const sent = try channel.sendMany(d, chan, 0, &batch);
        const got = try channel.recvMany(d, chan, 1, out[0 .. 2 * sent]);
        for (0..got) |i| try buffers.release(d, out[2 * i]);
        moved += got;
    }
    const bulk = @as(f64, @floatFromInt(sys.nowNs() - start)) / @as(f64, @floatFromInt(moved));

    // The counters' own cost: a ring's push and pop with and without them, in this process,
    // alternating 40 times so that drift and frequency changes hit both alike.
    const Ring = @import("ring.zig").Ring;
    const ring = d.ringAt(chan, 0);
    var timed: [2]u64 = .{ 0, 0 };
    const per_turn: u64 = 250_000;
    for (0..40) |turn| {
        inline for (.{ true, false }, 0..) |counted, variant| {
            const begin = sys.nowNs();
            for (0..per_turn) |i| {
                const items = [1]u64{@as(u64, i) & 0xffff};
                _ = try Ring.pushManyCounting(ring, &items, counted);
                var popped: [1]u64 = undefined;
                _ = try ring.popMany(&popped);
            }
            timed[variant] += sys.nowNs() - begin;
        }
        _ = turn;
    }
    const total_ops: f64 = @floatFromInt(40 * per_turn);
    const ring_counted = @as(f64, @floatFromInt(timed[0])) / total_ops;
    const ring_uncounted = @as(f64, @floatFromInt(timed[1])) / total_ops;

    var buffer: [512]u8 = undefined;
    const line = try std.fmt.bufPrint(&buffer, "{{\"alloc + release\":{d:.1},\"alloc + send + recv + release\":{d:.1},\"the same in bulk, per message\":{d:.1},\"ring push + pop, counted\":{d:.2},\"ring push + pop, uncounted\":{d:.2}}}\n", .{ alloc_release, message, bulk, ring_counted, ring_uncounted });
    _ = std.os.linux.write(1, line.ptr, line.len);
}
