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

    var buffer: [256]u8 = undefined;
    const line = try std.fmt.bufPrint(&buffer, "{{\"alloc + release\":{d:.1},\"alloc + send + recv + release\":{d:.1},\"the same in bulk, per message\":{d:.1}}}\n", .{ alloc_release, message, bulk });
    _ = std.os.linux.write(1, line.ptr, line.len);
}
