//! Buffer pools: one array of u32 owner words per size class, one word per buffer.
//!
//! The design we started from suggested a tagged Treiber stack. We chose owner words instead, because a stack has a
//! window between "popped from the free list" and "recorded as mine" in which a killed process
//! leaks the buffer for good, and closing that window needs intent records and list walks that
//! race with live users. Here the free list *is* the ownership record: every buffer is always
//! free, held by one node, or in flight on one channel direction, and every change is a single
//! compare-and-swap. A process killed at any instruction leaves only labelled buffers behind,
//! and a survivor reclaims them by scanning for the dead node's label.
//!
//! Allocation scans from a per-process cursor. In the steady state of a pipeline (free behind,
//! allocate ahead) the word under the cursor is free and allocation is one load and one CAS.
//! Only a nearly empty pool costs a longer scan, and that is the moment a caller waits anyway.

const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");

pub const Pool = struct {
    owners: [*]u32,
    count: u32,

    pub fn init(owners: [*]u32, count: u32) Pool {
        assert(count > 0);
        assert(count <= layout.buffer_count_max);
        return .{ .owners = owners, .count = count };
    }

    /// Labels one free buffer with `label` and returns its index, or null if none is free.
    pub fn alloc(pool: Pool, cursor: *u32, label: u32) ?u32 {
        assert(label != layout.owner_free);
        var index = if (cursor.* < pool.count) cursor.* else 0;
        var scanned: u32 = 0;
        while (scanned < pool.count) : (scanned += 1) {
            const word = &pool.owners[index];
            // seq_cst: W2 of the wake-up protocol (events.zig) for an allocator that armed a wait
            // and retries. (On x86 a seq_cst load is a plain load.)
            if (@atomicLoad(u32, word, .seq_cst) == layout.owner_free) {
                // Acquire pairs with the release in `release`: the previous holder's accesses to
                // the buffer happen before ours.
                if (@cmpxchgStrong(u32, word, layout.owner_free, label, .acquire, .monotonic) == null) {
                    cursor.* = if (index + 1 == pool.count) 0 else index + 1;
                    return index;
                }
            }
            index = if (index + 1 == pool.count) 0 else index + 1;
        }
        return null;
    }

    /// Moves buffer `index` from label `from` to label `to`. Returns false, changing nothing, if
    /// the buffer was not labelled `from`: that is how a forged or replayed descriptor shows.
    pub fn transfer(pool: Pool, index: u32, from: u32, to: u32) bool {
        assert(index < pool.count);
        assert(from != to);
        // Acquire/release: ownership moves with the label, and so do the payload writes.
        return @cmpxchgStrong(u32, &pool.owners[index], from, to, .acq_rel, .monotonic) == null;
    }

    /// Frees buffer `index` if it is labelled `from`.
    pub fn release(pool: Pool, index: u32, from: u32) bool {
        assert(index < pool.count);
        assert(from != layout.owner_free);
        // seq_cst, not just release: P1 of the wake-up protocol (events.zig) for allocators that
        // wait for a buffer; the waker's load of `waiting_nodes` is P2.
        return @cmpxchgStrong(u32, &pool.owners[index], from, layout.owner_free, .seq_cst, .monotonic) == null;
    }

    pub fn owner(pool: Pool, index: u32) u32 {
        assert(index < pool.count);
        return @atomicLoad(u32, &pool.owners[index], .acquire);
    }

    pub fn countFree(pool: Pool) u32 {
        var free: u32 = 0;
        for (0..pool.count) |i| {
            if (@atomicLoad(u32, &pool.owners[i], .monotonic) == layout.owner_free) free += 1;
        }
        assert(free <= pool.count);
        return free;
    }

    /// Frees every buffer whose label satisfies `matches`. Returns how many were freed. Safe to
    /// run while other nodes allocate and release: each free is a CAS from the label it saw.
    pub fn reclaim(pool: Pool, context: anytype, comptime matches: fn (@TypeOf(context), u32) bool) u32 {
        var freed: u32 = 0;
        for (0..pool.count) |i| {
            const label = @atomicLoad(u32, &pool.owners[i], .monotonic);
            if (label == layout.owner_free or !matches(context, label)) continue;
            if (pool.release(@intCast(i), label)) freed += 1;
        }
        return freed;
    }
};

const testing = std.testing;
const fuzz = @import("fuzz.zig");

fn labelEquals(expected: u32, label: u32) bool {
    return label == expected;
}

test "pool allocates every buffer once, then reports empty" {
    var owners: [8]u32 = @splat(0);
    const pool = Pool.init(&owners, owners.len);
    var cursor: u32 = 0;
    var seen: [8]bool = @splat(false);
    for (0..8) |_| {
        const index = pool.alloc(&cursor, layout.ownerNode(1)).?;
        try testing.expect(!seen[index]);
        seen[index] = true;
    }
    try testing.expectEqual(@as(?u32, null), pool.alloc(&cursor, layout.ownerNode(1)));
    try testing.expect(pool.release(3, layout.ownerNode(1)));
    try testing.expectEqual(@as(?u32, 3), pool.alloc(&cursor, layout.ownerNode(2)));
}

test "pool refuses a release or transfer from the wrong owner" {
    var owners: [4]u32 = @splat(0);
    const pool = Pool.init(&owners, owners.len);
    var cursor: u32 = 0;
    const index = pool.alloc(&cursor, layout.ownerNode(1)).?;
    try testing.expect(!pool.release(index, layout.ownerNode(2)));
    try testing.expect(!pool.transfer(index, layout.ownerInflight(0, 0), layout.ownerNode(2)));
    try testing.expect(pool.transfer(index, layout.ownerNode(1), layout.ownerInflight(0, 0)));
    try testing.expect(!pool.release(index, layout.ownerNode(1)));
    try testing.expect(pool.transfer(index, layout.ownerInflight(0, 0), layout.ownerNode(2)));
    try testing.expect(pool.release(index, layout.ownerNode(2)));
    try testing.expect(!pool.release(index, layout.ownerNode(2)));
}

test "pool reclaims exactly the buffers of one label" {
    var owners: [16]u32 = @splat(0);
    const pool = Pool.init(&owners, owners.len);
    var cursor: u32 = 0;
    for (0..6) |_| _ = pool.alloc(&cursor, layout.ownerNode(1)).?;
    for (0..4) |_| _ = pool.alloc(&cursor, layout.ownerNode(2)).?;
    try testing.expectEqual(@as(u32, 6), pool.reclaim(layout.ownerNode(1), labelEquals));
    try testing.expectEqual(@as(u32, 12), pool.countFree());
}

/// Model-based fuzz test: random allocations, transfers, releases (some from the wrong owner)
/// and reclaims by a few nodes, checked after every step against a plain array of owners.
pub fn fuzzPool(seed: u64, operations: u64) !void {
    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    const count = random.intRangeAtMost(u32, 1, 300);
    const owners = try testing.allocator.alloc(u32, count);
    defer testing.allocator.free(owners);
    const model = try testing.allocator.alloc(u32, count);
    defer testing.allocator.free(model);
    @memset(owners, 0);
    @memset(model, 0);
    const pool = Pool.init(owners.ptr, count);
    var cursors: [4]u32 = @splat(0);
    var model_free: u32 = count;
    // Per seed: the mix of allocations, releases, transfers and reclaims (see fuzz.zig).
    const weights = fuzz.Weights(4).draw(random);

    var done: u64 = 0;
    while (done < operations) : (done += 1) {
        const node = random.uintLessThan(u32, 4);
        const label = layout.ownerNode(node);
        const index = random.uintLessThan(u32, count);
        switch (weights.pick(random)) {
            0 => {
                const got = pool.alloc(&cursors[node], label);
                if (got) |i| {
                    if (model[i] != 0) return fail(seed, done, "allocated a held buffer", i);
                    model[i] = label;
                    model_free -= 1;
                } else if (model_free != 0) return fail(seed, done, "reported empty with free buffers", model_free);
            },
            1 => {
                const expected = model[index] == label;
                if (pool.release(index, label) != expected) return fail(seed, done, "release", index);
                if (expected) {
                    model[index] = 0;
                    model_free += 1;
                }
            },
            2 => {
                const target = layout.ownerInflight(random.uintLessThan(u32, 8), random.uintLessThan(u32, 2));
                const from = if (random.boolean()) label else model[index];
                const expected = from != 0 and model[index] == from and from != target;
                if (from == 0 or from == target) continue;
                if (pool.transfer(index, from, target) != expected) return fail(seed, done, "transfer", index);
                if (expected) model[index] = target;
            },
            3 => {
                var expected: u32 = 0;
                for (model) |*m| {
                    if (m.* == label) {
                        m.* = 0;
                        expected += 1;
                    }
                }
                if (pool.reclaim(label, labelEquals) != expected) return fail(seed, done, "reclaim", expected);
                model_free += expected;
            },
            else => unreachable,
        }
        if (!std.mem.eql(u32, owners, model)) return fail(seed, done, "owner words differ from the model", 0);
    }
    if (pool.countFree() != model_free) return fail(seed, done, "free count", model_free);
}

fn fail(seed: u64, step: u64, what: []const u8, value: u64) error{FuzzMismatch} {
    std.debug.print("pool fuzz mismatch at step {d} ({s}, {d}); replay with seed {d}\n", .{ step, what, value, seed });
    return error.FuzzMismatch;
}

/// Several threads allocate and release from one small pool as fast as they can. Each buffer has
/// a side mark that its holder sets and clears; two holders at once would collide on it.
pub fn stressPool(threads_count: u32, rounds: u32) !void {
    const count: u32 = 64;
    var owners: [count]u32 = @splat(0);
    var marks: [count]u32 = @splat(0);
    const pool = Pool.init(&owners, count);
    var collisions = std.atomic.Value(u32).init(0);

    const Worker = struct {
        fn run(p: Pool, marks_ptr: *[count]u32, collisions_ptr: *std.atomic.Value(u32), node: u32, n: u32) void {
            var cursor: u32 = node * 7;
            var held: [8]u32 = undefined;
            var round: u32 = 0;
            while (round < n) : (round += 1) {
                var got: usize = 0;
                while (got < held.len) : (got += 1) {
                    const index = p.alloc(&cursor, layout.ownerNode(node)) orelse break;
                    if (@cmpxchgStrong(u32, &marks_ptr[index], 0, node + 1, .monotonic, .monotonic) != null) {
                        _ = collisions_ptr.fetchAdd(1, .monotonic);
                    }
                    held[got] = index;
                }
                for (held[0..got]) |index| {
                    @atomicStore(u32, &marks_ptr[index], 0, .monotonic);
                    if (!p.release(index, layout.ownerNode(node))) _ = collisions_ptr.fetchAdd(1, .monotonic);
                }
            }
        }
    };

    var handles: [16]std.Thread = undefined;
    assert(threads_count <= handles.len);
    for (0..threads_count) |t| {
        handles[t] = try std.Thread.spawn(.{}, Worker.run, .{ pool, &marks, &collisions, @as(u32, @intCast(t)), rounds });
    }
    for (handles[0..threads_count]) |h| h.join();
    try testing.expectEqual(@as(u32, 0), collisions.load(.monotonic));
    try testing.expectEqual(count, pool.countFree());
}
