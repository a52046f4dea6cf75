//! Helpers of the seeded fuzz tests. Each seed draws its own operation weights, so that over many
//! seeds the tests also visit the skewed mixes (all pushes and few pops, mostly kills) where fixed
//! weights would never linger.

const std = @import("std");
const assert = std.debug.assert;

/// Weights for `n` kinds of operation, drawn from `random`: each 0 to 9, at least one not 0.
pub fn Weights(comptime n: usize) type {
    return struct {
        values: [n]u32,
        total: u32,

        const Self = @This();

        pub fn draw(random: std.Random) Self {
            var values: [n]u32 = undefined;
            var total: u32 = 0;
            for (&values) |*value| {
                value.* = random.uintLessThan(u32, 10);
                total += value.*;
            }
            if (total == 0) {
                values[random.uintLessThan(usize, n)] = 1;
                total = 1;
            }
            return .{ .values = values, .total = total };
        }

        /// An operation kind, with the drawn weights.
        pub fn pick(weights: Self, random: std.Random) usize {
            assert(weights.total > 0);
            var at = random.uintLessThan(u32, weights.total);
            for (weights.values, 0..) |value, kind| {
                if (at < value) return kind;
                at -= value;
            }
            unreachable;
        }
    };
}

test "weights pick only kinds with a weight, in proportion" {
    var prng = std.Random.DefaultPrng.init(1);
    const random = prng.random();
    const weights: Weights(3) = .{ .values = .{ 0, 1, 3 }, .total = 4 };
    var counts: [3]u32 = @splat(0);
    for (0..4000) |_| counts[weights.pick(random)] += 1;
    try std.testing.expectEqual(@as(u32, 0), counts[0]);
    try std.testing.expect(counts[2] > 2 * counts[1]);
    for (0..100) |_| try std.testing.expect(Weights(4).draw(random).total > 0);
}
