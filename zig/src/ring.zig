//! A single-producer single-consumer ring of u64 descriptors in shared memory.
//!
//! `head` and `tail` are free-running u32 counters; the slot is `counter & mask`. The producer
//! owns `tail` and `head_cache`, the consumer owns `head` and `tail_cache`. Each side re-reads the
//! other's counter only when its cached copy says the ring looks full (or empty), so in steady
//! state a side touches the other's cache line once per batch, not once per item.
//!
//! The memory is shared with processes we do not control, so nothing read from it is trusted:
//! a distance `tail - head` larger than the capacity means the ring is corrupt, and every call
//! reports that instead of indexing out of bounds (the mask keeps slot indices in range anyway).

const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
/// Whether pushes update the ring's message and byte counters (`-Dcounters`, on by default; off
/// only to measure what counting costs: bench/counters.ts).
const counting = @import("options").counters;

pub const Ring = struct {
    header: *layout.RingHeader,
    slots: [*]u64,
    capacity: u32,

    pub const Error = error{Corrupt};

    pub fn init(base: [*]u8, capacity: u32) Ring {
        assert(std.math.isPowerOfTwo(capacity));
        assert(@intFromPtr(base) % layout.line_bytes == 0);
        return .{
            .header = @ptrCast(@alignCast(base)),
            .slots = @ptrCast(@alignCast(base + @sizeOf(layout.RingHeader))),
            .capacity = capacity,
        };
    }

    /// Zeroes the counters. Only valid while neither side can touch the ring.
    pub fn reset(ring: Ring) void {
        @atomicStore(u32, &ring.header.head, 0, .monotonic);
        @atomicStore(u32, &ring.header.tail_cache, 0, .monotonic);
        @atomicStore(u32, &ring.header.tail, 0, .monotonic);
        @atomicStore(u32, &ring.header.head_cache, 0, .monotonic);
        @atomicStore(u32, &ring.header.consumer_waiting, 0, .monotonic);
        @atomicStore(u32, &ring.header.producer_waiting, 0, .monotonic);
        @atomicStore(u64, &ring.header.notified_at, 0, .monotonic);
        @atomicStore(u64, &ring.header.messages, 0, .monotonic);
        @atomicStore(u64, &ring.header.bytes, 0, .monotonic);
        @atomicStore(u32, &ring.header.poll_mode, 0, .monotonic);
        // Pairs with the acquire in the claim of a channel slot: the next owners see zeroes.
        @atomicStore(u32, &ring.header.head, 0, .release);
    }

    fn mask(ring: Ring) u32 {
        return ring.capacity - 1;
    }

    // Producer side.

    /// Free slots as the producer sees them, reloading `head` only if the cache says full.
    pub fn free(ring: Ring, wanted: u32) Error!u32 {
        assert(wanted <= ring.capacity);
        const tail = @atomicLoad(u32, &ring.header.tail, .monotonic);
        var head = @atomicLoad(u32, &ring.header.head_cache, .monotonic);
        var used = tail -% head;
        if (used > ring.capacity or ring.capacity - used < wanted) {
            // Pairs with the consumer's release store of `head` in `consume`: slots it has
            // released are no longer read by it, so we may overwrite them.
            head = @atomicLoad(u32, &ring.header.head, .acquire);
            @atomicStore(u32, &ring.header.head_cache, head, .monotonic);
            used = tail -% head;
            if (used > ring.capacity) return error.Corrupt;
        }
        return ring.capacity - used;
    }

    /// Appends as many of `items` as fit and returns how many did.
    pub fn pushMany(ring: Ring, items: []const u64) Error!u32 {
        return ring.pushManyCounting(items, counting);
    }

    /// `pushMany`, with the counters updated or not: the native benchmark times both in one
    /// process (zig/src/bench.zig).
    pub fn pushManyCounting(ring: Ring, items: []const u64, comptime count_them: bool) Error!u32 {
        assert(items.len <= ring.capacity);
        const room = try ring.free(@intCast(items.len));
        const count: u32 = @min(room, @as(u32, @intCast(items.len)));
        if (count == 0) return 0;
        const tail = @atomicLoad(u32, &ring.header.tail, .monotonic);
        var bytes: u64 = 0;
        for (items[0..count], 0..) |item, i| {
            const slot = (tail +% @as(u32, @intCast(i))) & ring.mask();
            @atomicStore(u64, &ring.slots[slot], item, .monotonic);
            bytes += layout.descriptorLength(item);
        }
        if (count_them) {
            // The producer is the only writer: a load and a store, not a read-modify-write.
            // Readers see them no later than the tail below publishes.
            const messages = @atomicLoad(u64, &ring.header.messages, .monotonic);
            @atomicStore(u64, &ring.header.messages, messages +% count, .monotonic);
            const total = @atomicLoad(u64, &ring.header.bytes, .monotonic);
            @atomicStore(u64, &ring.header.bytes, total +% bytes, .monotonic);
        }
        // The slot writes above (and the payload writes before them) become visible before the
        // new tail. seq_cst rather than release: this is P1 of the wake-up protocol
        // (events.zig), and the caller's load of `consumer_waiting` is P2.
        @atomicStore(u32, &ring.header.tail, tail +% count, .seq_cst);
        assert(count <= items.len);
        return count;
    }

    pub fn push(ring: Ring, item: u64) error{ Full, Corrupt }!void {
        const items = [1]u64{item};
        if (try ring.pushMany(&items) == 0) return error.Full;
    }

    // Consumer side.

    /// Items ready for the consumer, reloading `tail` only if the cache shows fewer than `wanted`.
    pub fn available(ring: Ring, wanted: u32) Error!u32 {
        assert(wanted >= 1);
        const head = @atomicLoad(u32, &ring.header.head, .monotonic);
        var tail = @atomicLoad(u32, &ring.header.tail_cache, .monotonic);
        var count = tail -% head;
        if (count < wanted or count > ring.capacity) {
            // Pairs with the producer's store of `tail` in `pushMany`: the slots below it are
            // written, and so is the payload they describe.
            tail = @atomicLoad(u32, &ring.header.tail, .seq_cst);
            @atomicStore(u32, &ring.header.tail_cache, tail, .monotonic);
            count = tail -% head;
            if (count > ring.capacity) return error.Corrupt;
        }
        return count;
    }

    /// The item `offset` places past the head. The caller has checked `available()`.
    pub fn peek(ring: Ring, offset: u32) u64 {
        assert(offset < ring.capacity);
        const head = @atomicLoad(u32, &ring.header.head, .monotonic);
        return @atomicLoad(u64, &ring.slots[(head +% offset) & ring.mask()], .monotonic);
    }

    /// Releases `count` items to the producer.
    pub fn consume(ring: Ring, count: u32) void {
        assert(count <= ring.capacity);
        const head = @atomicLoad(u32, &ring.header.head, .monotonic);
        // seq_cst: P1 of the wake-up protocol (events.zig) for a producer that waits for room.
        @atomicStore(u32, &ring.header.head, head +% count, .seq_cst);
    }

    /// Copies up to `out.len` items out and consumes them.
    pub fn popMany(ring: Ring, out: []u64) Error!u32 {
        assert(out.len > 0);
        const wanted: u32 = @intCast(@min(out.len, ring.capacity));
        const count = @min(try ring.available(wanted), wanted);
        for (0..count) |i| out[i] = ring.peek(@intCast(i));
        ring.consume(count);
        return count;
    }

    pub fn pop(ring: Ring) error{ Empty, Corrupt }!u64 {
        var out: [1]u64 = undefined;
        if (try ring.popMany(&out) == 0) return error.Empty;
        return out[0];
    }

    /// Items in the ring as an outsider sees them; for statistics only.
    pub fn length(ring: Ring) u32 {
        const tail = @atomicLoad(u32, &ring.header.tail, .acquire);
        const head = @atomicLoad(u32, &ring.header.head, .acquire);
        return @min(tail -% head, ring.capacity);
    }
};

const testing = std.testing;
const fuzz = @import("fuzz.zig");

const TestRing = struct {
    memory: []align(layout.line_bytes) u8,
    ring: Ring,

    fn create(capacity: u32) !TestRing {
        const bytes = layout.ringBytes(capacity);
        const memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(layout.line_bytes), @intCast(bytes));
        @memset(memory, 0);
        return .{ .memory = memory, .ring = Ring.init(memory.ptr, capacity) };
    }

    fn destroy(t: TestRing) void {
        testing.allocator.free(t.memory);
    }
};

test "ring pushes and pops in order and reports full and empty" {
    const t = try TestRing.create(4);
    defer t.destroy();
    try testing.expectError(error.Empty, t.ring.pop());
    for (0..4) |i| try t.ring.push(i + 10);
    try testing.expectError(error.Full, t.ring.push(99));
    for (0..4) |i| try testing.expectEqual(@as(u64, i + 10), try t.ring.pop());
    try testing.expectError(error.Empty, t.ring.pop());
}

test "ring counters wrap around u32 without losing items" {
    const t = try TestRing.create(8);
    defer t.destroy();
    t.ring.header.head = std.math.maxInt(u32) - 3;
    t.ring.header.tail = std.math.maxInt(u32) - 3;
    t.ring.header.head_cache = t.ring.header.head;
    t.ring.header.tail_cache = t.ring.header.tail;
    for (0..100) |round| {
        const items = [_]u64{ round, round + 1, round + 2 };
        try testing.expectEqual(@as(u32, 3), try t.ring.pushMany(&items));
        var out: [8]u64 = undefined;
        try testing.expectEqual(@as(u32, 3), try t.ring.popMany(&out));
        try testing.expectEqualSlices(u64, &items, out[0..3]);
    }
}

test "ring reports corrupt counters instead of reading out of bounds" {
    const t = try TestRing.create(8);
    defer t.destroy();
    t.ring.header.tail = 1000; // a peer scribbled over the producer index
    try testing.expectError(error.Corrupt, t.ring.available(1));
    t.ring.header.tail = 0;
    t.ring.header.head = 1000;
    t.ring.header.head_cache = 1000;
    try testing.expectError(error.Corrupt, t.ring.pushMany(&[_]u64{ 1, 2, 3, 4, 5, 6, 7, 8 }));
}

/// Model-based fuzz test: a seeded random mix of bulk pushes and pops, checked after every step
/// against a plain FIFO model.
pub fn fuzzRing(seed: u64, operations: u64) !void {
    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    const capacity: u32 = @as(u32, 1) << random.intRangeAtMost(u5, 1, 10);
    const t = try TestRing.create(capacity);
    defer t.destroy();
    // Start near the wrap point half the time, so wrap-around is exercised in short runs.
    if (random.boolean()) {
        const start = std.math.maxInt(u32) - random.uintLessThan(u32, 4 * capacity);
        t.ring.header.head = start;
        t.ring.header.tail = start;
        t.ring.header.head_cache = start;
        t.ring.header.tail_cache = start;
    }
    var model: std.Deque(u64) = .empty;
    defer model.deinit(testing.allocator);
    var next_value: u64 = 0;
    var scratch: [1024]u64 = undefined;
    // Per seed: how often to push rather than pop (so some seeds keep the ring full, others
    // empty), and whether batches are small or up to the capacity.
    const weights = fuzz.Weights(2).draw(random);
    const batch_max = if (random.boolean()) capacity else @min(capacity, 4);
    var done: u64 = 0;
    while (done < operations) {
        const batch = random.intRangeAtMost(u32, 1, batch_max);
        if (weights.pick(random) == 0) {
            for (scratch[0..batch]) |*item| {
                item.* = next_value;
                next_value += 1;
            }
            const pushed = try t.ring.pushMany(scratch[0..batch]);
            const expected = @min(batch, capacity - @as(u32, @intCast(model.len)));
            if (pushed != expected) return fail(seed, "push count", pushed, expected);
            for (scratch[0..pushed]) |item| try model.pushBack(testing.allocator, item);
            next_value -= batch - pushed;
            done += 1;
        } else {
            const popped = try t.ring.popMany(scratch[0..batch]);
            const expected = @min(batch, @as(u32, @intCast(model.len)));
            if (popped != expected) return fail(seed, "pop count", popped, expected);
            for (scratch[0..popped]) |item| {
                const want = model.popFront().?;
                if (item != want) return fail(seed, "pop value", item, want);
            }
            done += 1;
        }
        if (t.ring.length() != model.len) return fail(seed, "length", t.ring.length(), model.len);
    }
}

fn fail(seed: u64, what: []const u8, actual: u64, expected: u64) error{FuzzMismatch} {
    std.debug.print("ring fuzz mismatch ({s}): got {d}, expected {d}; replay with seed {d}\n", .{ what, actual, expected, seed });
    return error.FuzzMismatch;
}

/// Two threads, one producer and one consumer, on one ring: what a sequential model cannot see.
/// The producer pushes the sequence 0, 1, 2, ... in random batches; the consumer pops in random
/// batches and checks that it gets exactly that sequence, each item once, in order. A missed
/// acquire (reading a slot before its write) or a head published too early (a slot overwritten
/// before it was read) shows as a wrong value. Small capacities keep both sides at the
/// boundaries, full and empty, where the orderings matter.
pub fn stressRing(seed: u64, capacity: u32, items: u64) !void {
    const t = try TestRing.create(capacity);
    defer t.destroy();
    const start = std.math.maxInt(u32) - capacity; // wrap early, too
    t.ring.header.head = start;
    t.ring.header.tail = start;
    t.ring.header.head_cache = start;
    t.ring.header.tail_cache = start;

    const Producer = struct {
        fn run(ring: Ring, s: u64, total: u64) void {
            var prng = std.Random.DefaultPrng.init(s);
            const random = prng.random();
            var scratch: [64]u64 = undefined;
            var next: u64 = 0;
            while (next < total) {
                const batch: u32 = @intCast(@min(total - next, random.intRangeAtMost(u32, 1, @min(scratch.len, ring.capacity))));
                for (scratch[0..batch], 0..) |*item, i| item.* = next + i;
                const pushed = ring.pushMany(scratch[0..batch]) catch unreachable;
                next += pushed;
                if (pushed == 0) std.Thread.yield() catch {};
            }
        }
    };
    const producer = try std.Thread.spawn(.{}, Producer.run, .{ t.ring, seed, items });
    var prng = std.Random.DefaultPrng.init(seed +% 1);
    const random = prng.random();
    var scratch: [64]u64 = undefined;
    var expected: u64 = 0;
    var wrong: ?struct { got: u64, want: u64 } = null;
    while (expected < items) {
        const batch = random.intRangeAtMost(usize, 1, scratch.len);
        const popped = try t.ring.popMany(scratch[0..batch]);
        for (scratch[0..popped]) |item| {
            if (item != expected and wrong == null) wrong = .{ .got = item, .want = expected };
            expected += 1;
        }
        if (popped == 0) std.Thread.yield() catch {};
    }
    producer.join();
    if (wrong) |w| return fail(seed, "two-thread pop value", w.got, w.want);
    if (t.ring.length() != 0) return fail(seed, "two-thread length at the end", t.ring.length(), 0);
}
