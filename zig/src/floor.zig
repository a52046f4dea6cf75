//! The floor of a paced round trip between two idle processes, without any JS runtime:
//!
//!     xio-floor <futex|unix> <interval ms> <count>
//!
//! `futex`: two processes ping-pong a shared (not private) futex word, each sleeping in the
//! kernel between its turns. `unix`: the same over a connected UNIX stream socket pair, one
//! byte each way. The client sleeps until the next tick of the interval (a deadline schedule)
//! before each round trip, so that both sides find each other asleep, as paced services do.
//! Prints one JSON line: p50, p99 and p99.9 in microseconds.

const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");

pub fn main(init: std.process.Init.Minimal) !void {
    var args = init.args.iterate();
    _ = args.next();
    const mode = args.next() orelse return usage();
    const interval_ms = std.fmt.parseFloat(f64, args.next() orelse return usage()) catch return usage();
    const count = std.fmt.parseInt(u32, args.next() orelse return usage(), 10) catch return usage();
    if (count == 0 or count > 1_000_000) return usage();
    const futex = std.mem.eql(u8, mode, "futex");
    if (!futex and !std.mem.eql(u8, mode, "unix")) return usage();

    const times = try std.heap.page_allocator.alloc(u64, count);
    defer std.heap.page_allocator.free(times);
    const interval_ns: u64 = @intFromFloat(interval_ms * std.time.ns_per_ms);
    if (futex) try pingFutex(times, interval_ns) else try pingUnix(times, interval_ns);

    std.mem.sort(u64, times, {}, std.sort.asc(u64));
    var buffer: [256]u8 = undefined;
    const line = try std.fmt.bufPrint(&buffer, "{{\"mode\":\"{s}\",\"interval_ms\":{d},\"count\":{d},\"p50_us\":{d:.2},\"p99_us\":{d:.2},\"p999_us\":{d:.2}}}\n", .{
        mode, interval_ms, count, micros(times, 0.5), micros(times, 0.99), micros(times, 0.999),
    });
    _ = linux.write(1, line.ptr, line.len);
}

fn usage() void {
    const text = "usage: xio-floor <futex|unix> <interval ms> <count>\n";
    _ = linux.write(2, text.ptr, text.len);
    linux.exit(2);
}

fn micros(sorted: []const u64, p: f64) f64 {
    const at: usize = @min(sorted.len - 1, @as(usize, @intFromFloat(@as(f64, @floatFromInt(sorted.len)) * p)));
    return @as(f64, @floatFromInt(sorted[at])) / 1000.0;
}

const warmup = 50;

fn sleepUntil(deadline_ns: u64) void {
    const now = sys.nowNs();
    if (deadline_ns <= now) return;
    const wait = deadline_ns - now;
    const ts: linux.timespec = .{ .sec = @intCast(wait / std.time.ns_per_s), .nsec = @intCast(wait % std.time.ns_per_s) };
    _ = linux.nanosleep(&ts, null);
}

/// Word 0: the client's turn counter; word 1: the server's answer counter.
fn pingFutex(times: []u64, interval_ns: u64) !void {
    const rc = linux.mmap(null, 4096, .{ .READ = true, .WRITE = true }, .{ .TYPE = .SHARED, .ANONYMOUS = true }, -1, 0);
    if (linux.errno(rc) != .SUCCESS) return error.Mmap;
    const words: *[2]u32 = @ptrFromInt(rc);
    words.* = .{ 0, 0 };
    const pid = linux.fork();
    if (pid == 0) {
        var seen: u32 = 0;
        while (true) {
            while (@atomicLoad(u32, &words[0], .acquire) == seen) _ = sys.futexWait(&words[0], seen, std.time.ns_per_s);
            seen = @atomicLoad(u32, &words[0], .acquire);
            if (seen == std.math.maxInt(u32)) linux.exit(0);
            _ = @atomicRmw(u32, &words[1], .Add, 1, .release);
            _ = sys.futexWake(&words[1], 1);
        }
    }
    var next = sys.nowNs();
    var i: i64 = -warmup;
    var answers: u32 = 0;
    while (i < times.len) : (i += 1) {
        next += interval_ns;
        sleepUntil(next);
        const start = sys.nowNs();
        _ = @atomicRmw(u32, &words[0], .Add, 1, .release);
        _ = sys.futexWake(&words[0], 1);
        answers += 1;
        while (@atomicLoad(u32, &words[1], .acquire) != answers) _ = sys.futexWait(&words[1], answers - 1, std.time.ns_per_s);
        if (i >= 0) times[@intCast(i)] = sys.nowNs() - start;
    }
    @atomicStore(u32, &words[0], std.math.maxInt(u32), .release);
    _ = sys.futexWake(&words[0], 1);
    var status: i32 = 0;
    _ = linux.wait4(@intCast(pid), &status, 0, null);
}

fn pingUnix(times: []u64, interval_ns: u64) !void {
    var pair: [2]i32 = undefined;
    if (linux.errno(linux.socketpair(linux.AF.UNIX, linux.SOCK.STREAM, 0, &pair)) != .SUCCESS) return error.Socket;
    const pid = linux.fork();
    var byte = [1]u8{'x'};
    if (pid == 0) {
        sys.close(pair[0]);
        while (true) {
            if (linux.read(pair[1], &byte, 1) != 1) linux.exit(0);
            _ = linux.write(pair[1], &byte, 1);
        }
    }
    sys.close(pair[1]);
    var next = sys.nowNs();
    var i: i64 = -warmup;
    while (i < times.len) : (i += 1) {
        next += interval_ns;
        sleepUntil(next);
        const start = sys.nowNs();
        _ = linux.write(pair[0], &byte, 1);
        _ = linux.read(pair[0], &byte, 1);
        if (i >= 0) times[@intCast(i)] = sys.nowNs() - start;
    }
    sys.close(pair[0]);
    var status: i32 = 0;
    _ = linux.wait4(@intCast(pid), &status, 0, null);
}
