//! Buffers: the size classes of a domain, whose owner words in shared memory say which node holds
//! each buffer (see pool.zig). A buffer id is its class and its index in that class.

const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const domain_mod = @import("domain.zig");
const Domain = domain_mod.Domain;
const Error = @import("channel.zig").Error;

/// A buffer id taken apart, each part within the domain's configuration. `length` bytes fit.
pub const Buffer = struct { class: u32, index: u32 };

pub fn validate(d: *const Domain, id: u32, length: u32) ?Buffer {
    const class = layout.bufferClass(id);
    const index = layout.bufferIndex(id);
    if (class >= d.config.class_count) return null;
    if (index >= d.config.class_counts[class]) return null;
    if (length > d.config.class_sizes[class]) return null;
    return .{ .class = class, .index = index };
}

/// Allocates a buffer of at least `size` bytes from the smallest class that fits.
pub fn alloc(d: *Domain, size: u32) Error!u32 {
    const class = classFor(d, size) orelse return error.TooBig;
    const index = d.poolAt(class).alloc(&d.cursors[class], layout.ownerNode(d.node)) orelse return error.WouldBlock;
    _ = @atomicRmw(u64, &d.header().classes[class].allocations, .Add, 1, .monotonic);
    return layout.bufferId(class, index);
}

pub fn classFor(d: *const Domain, size: u32) ?u32 {
    for (0..d.config.class_count) |c| {
        if (size <= d.config.class_sizes[c]) return @intCast(c);
    }
    return null;
}

pub fn release(d: *Domain, id: u32) Error!void {
    const buffer = validate(d, id, 0) orelse return error.Invalid;
    if (!d.poolAt(buffer.class).release(buffer.index, layout.ownerNode(d.node))) return error.Invalid;
    d.wakePoolWaiters(buffer.class);
}

/// The bytes [from, from + length) of buffer `id`, which this node must hold. Null if the id is
/// invalid, the buffer is not ours, or the range does not fit in the buffer.
pub fn heldBytes(d: *Domain, id: u32, from: u32, length: u32) ?[]u8 {
    const buffer = validate(d, id, 0) orelse return null;
    const size = d.config.class_sizes[buffer.class];
    if (from > size or length > size - from) return null;
    if (d.poolAt(buffer.class).owner(buffer.index) != layout.ownerNode(d.node)) return null;
    const start = d.offsets.data_offset[buffer.class] + @as(u64, buffer.index) * size + from;
    return (d.base + start)[0..length];
}

/// Registers this node as waiting for a buffer of the class that fits `size`.
pub fn armAlloc(d: *Domain, size: u32) Error!void {
    const class = classFor(d, size) orelse return error.TooBig;
    const word = &d.header().classes[class].waiting_nodes[d.node / 64];
    // W1 of the wake-up protocol (events.zig); the caller's retry of the allocation is W2.
    _ = @atomicRmw(u64, word, .Or, @as(u64, 1) << @intCast(d.node % 64), .seq_cst);
}
