//! Services and channels: the registry that maps names to listening nodes, and the connection
//! slots whose two rings carry buffer descriptors between a client and a server.
//!
//! A side is 0 for the client and 1 for the server. A side sends on ring `side` and receives on
//! ring `1 - side`, so direction 0 is client-to-server.

const std = @import("std");
const assert = std.debug.assert;
const layout = @import("layout.zig");
const domain_mod = @import("domain.zig");
const Domain = domain_mod.Domain;
const Ring = @import("ring.zig").Ring;
const sys = @import("sys.zig");
const buffers = @import("buffer.zig");

pub const Error = error{
    WouldBlock,
    Closed,
    Reset,
    Corrupt,
    Invalid,
    Pipe,
    State,
    Refused,
    NotFound,
    InUse,
    Full,
    TooBig,
    /// Another process held the control lock longer than the handle's lock timeout.
    LockTimeout,
};

fn goneBit(side: u32) u32 {
    return if (side == 0) layout.flag.client_gone else layout.flag.server_gone;
}

fn eofBit(direction: u32) u32 {
    return if (direction == 0) layout.flag.eof_c2s else layout.flag.eof_s2c;
}

/// The node at the other end of side `side`: from this process's own record when it holds that
/// side (shared memory may have been scribbled on), else from the slot (a clean-up of a dead node
/// in another process has nothing better).
fn peerOf(d: *const Domain, index: u32, ch: *const layout.Channel, side: u32) u32 {
    const local = d.locals[index][side];
    if (local.open) return local.peer;
    return if (side == 0) @atomicLoad(u32, &ch.server, .monotonic) else @atomicLoad(u32, &ch.client, .monotonic);
}

// Services.

fn nameEquals(service: *const layout.Service, name: []const u8) bool {
    const len = @atomicLoad(u32, &service.name_len, .monotonic);
    if (len != name.len) return false;
    return std.mem.eql(u8, service.name[0..len], name);
}

/// Registers `name` for this node. Returns the service index.
pub fn listen(d: *Domain, name: []const u8) Error!u32 {
    if (!domain_mod.validName(name)) return error.Invalid;
    try d.lockControl();
    defer d.unlockControl();
    var free_slot: ?u32 = null;
    for (0..d.config.service_max) |s| {
        const index: u32 = @intCast(s);
        const service = d.serviceAt(index);
        if (@atomicLoad(u32, &service.state, .acquire) == @backingInt(layout.ServiceState.active)) {
            if (nameEquals(service, name)) return error.InUse;
        } else if (free_slot == null) {
            free_slot = index;
        }
    }
    const index = free_slot orelse return error.Full;
    const service = d.serviceAt(index);
    @memcpy(service.name[0..name.len], name);
    @atomicStore(u32, &service.name_len, @intCast(name.len), .monotonic);
    @atomicStore(u32, &service.node, d.node, .monotonic);
    _ = @atomicRmw(u32, &service.generation, .Add, 1, .monotonic);
    // Release: name and node are visible before the slot reads as active.
    @atomicStore(u32, &service.state, @backingInt(layout.ServiceState.active), .release);
    return index;
}

pub fn unlisten(d: *Domain, index: u32) Error!void {
    if (index >= d.config.service_max) return error.Invalid;
    try d.lockControl();
    defer d.unlockControl();
    const service = d.serviceAt(index);
    if (@atomicLoad(u32, &service.state, .acquire) != @backingInt(layout.ServiceState.active)) return error.Invalid;
    if (@atomicLoad(u32, &service.node, .monotonic) != d.node) return error.Invalid;
    unregisterLocked(d, service);
}

pub fn unregisterLocked(d: *Domain, service: *layout.Service) void {
    _ = d;
    @atomicStore(u32, &service.state, @backingInt(layout.ServiceState.free), .release);
    _ = @atomicRmw(u32, &service.generation, .Add, 1, .monotonic);
}

const Lookup = struct { index: u32, node: u32, generation: u32 };

fn lookup(d: *Domain, name: []const u8) ?Lookup {
    for (0..d.config.service_max) |s| {
        const index: u32 = @intCast(s);
        const service = d.serviceAt(index);
        // Acquire pairs with the release in `listen`.
        if (@atomicLoad(u32, &service.state, .acquire) != @backingInt(layout.ServiceState.active)) continue;
        if (!nameEquals(service, name)) continue;
        const node = @atomicLoad(u32, &service.node, .monotonic);
        if (node >= d.config.node_max) continue;
        return .{ .index = index, .node = node, .generation = @atomicLoad(u32, &service.generation, .monotonic) };
    }
    return null;
}

fn serviceStillThere(d: *Domain, found: Lookup) bool {
    const service = d.serviceAt(found.index);
    if (@atomicLoad(u32, &service.state, .seq_cst) != @backingInt(layout.ServiceState.active)) return false;
    if (@atomicLoad(u32, &service.generation, .seq_cst) != found.generation) return false;
    const node = d.nodeAt(found.node);
    return layout.nodeStatusState(@atomicLoad(u32, &node.status, .seq_cst)) == .active;
}

// Channels.

/// Connects to the service `name`. Returns the channel index; this node is its client side.
pub fn connect(d: *Domain, name: []const u8) Error!u32 {
    if (!domain_mod.validName(name)) return error.Invalid;
    const found = lookup(d, name) orelse return error.NotFound;
    const index = try claim(d);
    const ch = d.channelAt(index);
    @atomicStore(u32, &ch.service, found.index, .monotonic);
    @atomicStore(u32, &ch.service_generation, found.generation, .monotonic);
    @atomicStore(u32, &ch.client, d.node, .monotonic);
    @atomicStore(u32, &ch.server, found.node, .monotonic);
    @atomicStore(u32, &ch.flags, 0, .monotonic);
    // Store mine, then load yours, against a clean-up of the server (the wake-up protocol's
    // last instance, events.zig).
    @atomicStore(u32, &ch.status, layout.channelStatus(.open, d.node), .seq_cst);
    if (!serviceStillThere(d, found)) {
        closeSide(d, index, 0, false);
        return error.NotFound;
    }
    _ = @atomicRmw(u64, &d.header().channels_opened, .Add, 1, .monotonic);
    d.locals[index][0] = .{ .open = true, .peer = found.node, .generation = @atomicLoad(u32, &ch.generation, .acquire) };
    // Connected before any ring: the server then sees this process's death at once.
    d.bellTouch(found.node);
    d.notify(found.node, index);
    return index;
}

fn claim(d: *Domain) Error!u32 {
    var scanned: u32 = 0;
    var index = d.channel_cursor % d.config.channel_max;
    while (scanned < d.config.channel_max) : (scanned += 1) {
        const ch = d.channelAt(index);
        const claimed = layout.channelStatus(.claimed, d.node);
        if (@atomicLoad(u32, &ch.status, .monotonic) == 0) {
            // Acquire pairs with the release in `teardown`: the rings were reset before the
            // slot became free.
            if (@cmpxchgStrong(u32, &ch.status, 0, claimed, .acquire, .monotonic) == null) {
                assert(index < d.config.channel_max);
                d.channel_cursor = index + 1;
                return index;
            }
        }
        index = if (index + 1 == d.config.channel_max) 0 else index + 1;
    }
    return error.Full;
}

/// Called by a server node for a channel it heard about: if it is a new connection to one of
/// its services, marks it accepted and returns the service index.
pub fn accept(d: *Domain, index: u32) Error!u32 {
    if (index >= d.config.channel_max) return error.Invalid;
    const ch = d.channelAt(index);
    const status = @atomicLoad(u32, &ch.status, .acquire);
    if (layout.channelStatusState(status) != .open) return error.Invalid;
    if (@atomicLoad(u32, &ch.server, .monotonic) != d.node) return error.Invalid;
    const previous = @atomicRmw(u32, &ch.flags, .Or, layout.flag.accepted, .acq_rel);
    if (previous & layout.flag.accepted != 0) return error.Invalid;
    if (previous & (layout.flag.client_gone | layout.flag.reset) != 0) {
        closeSide(d, index, 1, false);
        return error.Invalid;
    }
    const service_index = @atomicLoad(u32, &ch.service, .monotonic);
    if (service_index >= d.config.service_max) {
        closeSide(d, index, 1, false);
        return error.Invalid;
    }
    const service = d.serviceAt(service_index);
    const active = @atomicLoad(u32, &service.state, .acquire) == @backingInt(layout.ServiceState.active);
    const owner = @atomicLoad(u32, &service.node, .monotonic);
    const generation = @atomicLoad(u32, &service.generation, .monotonic);
    if (!active or owner != d.node or generation != @atomicLoad(u32, &ch.service_generation, .monotonic)) {
        closeSide(d, index, 1, false);
        return error.Refused;
    }
    const client = @atomicLoad(u32, &ch.client, .monotonic);
    if (client >= d.config.node_max) {
        closeSide(d, index, 1, false);
        return error.Invalid;
    }
    d.locals[index][1] = .{ .open = true, .peer = client, .generation = @atomicLoad(u32, &ch.generation, .acquire) };
    // Connected before any ring: the client then sees this process's death at once.
    d.bellTouch(client);
    return service_index;
}

/// Refuses a connection that the JS side has no listener for.
pub fn refuse(d: *Domain, index: u32) void {
    if (index >= d.config.channel_max) return;
    const ch = d.channelAt(index);
    if (layout.channelStatusState(@atomicLoad(u32, &ch.status, .acquire)) != .open) return;
    if (@atomicLoad(u32, &ch.server, .monotonic) != d.node) return;
    closeSide(d, index, 1, false);
}

/// The slot of a channel this process holds side `side` of, checked against this process's own
/// record: a channel it does not hold is the caller's mistake (Invalid); a slot that no longer
/// says what the record says was scribbled on, or freed and taken again after a clean-up that
/// a scribble caused (Corrupt, and the channel is poisoned when it is still ours).
fn validateSide(d: *Domain, index: u32, side: u32) Error!*layout.Channel {
    if (index >= d.config.channel_max or side > 1) return error.Invalid;
    const local = d.locals[index][side];
    if (!local.open) return error.Invalid;
    const ch = d.channelAt(index);
    if (@atomicLoad(u32, &ch.generation, .acquire) != local.generation) return error.Corrupt;
    const status = @atomicLoad(u32, &ch.status, .acquire);
    const endpoint = @atomicLoad(u32, if (side == 0) &ch.client else &ch.server, .monotonic);
    const peer = @atomicLoad(u32, if (side == 0) &ch.server else &ch.client, .monotonic);
    if (layout.channelStatusState(status) != .open or endpoint != d.node or peer != local.peer) {
        poison(d, index, ch, side);
        return error.Corrupt;
    }
    assert(index < d.config.channel_max and side <= 1);
    return ch;
}

/// Marks the channel corrupt and reset, and tells the peer. Used when a peer broke the protocol.
fn poison(d: *Domain, index: u32, ch: *layout.Channel, side: u32) void {
    _ = @atomicRmw(u64, &d.header().corrupt_descriptors, .Add, 1, .monotonic);
    const previous = @atomicRmw(u32, &ch.flags, .Or, layout.flag.corrupt | layout.flag.reset, .acq_rel);
    if (previous & layout.flag.reset == 0) d.notify(peerOf(d, index, ch, side), index);
}

fn sendAllowed(flags: u32, side: u32) Error!void {
    if (flags & layout.flag.reset != 0) return error.Reset;
    if (flags & eofBit(side) != 0) return error.State;
    if (flags & goneBit(1 - side) != 0) return error.Pipe;
}

/// Sends the `count` descriptors in `io` pairs (id, length) starting at `io[2]`. Returns how many
/// were sent: fewer than `count` when the ring fills or a buffer is not ours to send.
pub fn sendMany(d: *Domain, index: u32, side: u32, descriptors: []const u32) Error!u32 {
    assert(descriptors.len % 2 == 0);
    const ch = try validateSide(d, index, side);
    try sendAllowed(@atomicLoad(u32, &ch.flags, .acquire), side);
    const ring = d.ringAt(index, side);
    const wanted: u32 = @intCast(@min(descriptors.len / 2, d.config.ring_capacity));
    const room = ring.free(wanted) catch {
        poison(d, index, ch, side);
        return error.Corrupt;
    };
    if (room == 0) return error.WouldBlock;
    const me = layout.ownerNode(d.node);
    const label = layout.ownerInflight(index, side);
    var items: [domain_mod.batch_max]u64 = undefined;
    var count: u32 = 0;
    var invalid = false;
    while (count < @min(room, wanted)) : (count += 1) {
        const id = descriptors[2 * count];
        const length = descriptors[2 * count + 1];
        const buffer = buffers.validate(d, id, length) orelse {
            invalid = true;
            break;
        };
        if (!d.poolAt(buffer.class).transfer(buffer.index, me, label)) {
            invalid = true;
            break;
        }
        items[count] = layout.descriptor(id, length);
    }
    if (count > 0) {
        const pushed = ring.pushMany(items[0..count]) catch unreachable; // room was checked
        assert(pushed == count);
        wakeConsumer(d, ring, ch, index, side);
    }
    if (count == 0 and invalid) return error.Invalid;
    assert(count <= wanted and count <= room);
    return count;
}

fn wakeConsumer(d: *Domain, ring: Ring, ch: *layout.Channel, index: u32, side: u32) void {
    // P2 of the wake-up protocol (events.zig), after `pushMany` published the tail.
    if (@atomicLoad(u32, &ring.header.consumer_waiting, .seq_cst) == 0) return;
    if (@atomicRmw(u32, &ring.header.consumer_waiting, .Xchg, 0, .seq_cst) == 0) return;
    // Monotonic: a hint, read after the consumer is woken by the notify below.
    @atomicStore(u64, &ring.header.notified_at, stamp(), .monotonic);
    d.notify(peerOf(d, index, ch, side), index);
}

/// Now, as the bits of an f64 of CLOCK_MONOTONIC nanoseconds (see `RingHeader.notified_at`).
fn stamp() u64 {
    return @bitCast(@as(f64, @floatFromInt(sys.nowNs())));
}

fn wakeProducer(d: *Domain, ring: Ring, ch: *layout.Channel, index: u32, side: u32) void {
    // P2 of the wake-up protocol (events.zig), after `consume` published the head.
    if (@atomicLoad(u32, &ring.header.producer_waiting, .seq_cst) == 0) return;
    if (@atomicRmw(u32, &ring.header.producer_waiting, .Xchg, 0, .seq_cst) == 0) return;
    d.notify(peerOf(d, index, ch, side), index);
}

/// Receives up to `out.len / 2` descriptors as (id, length) pairs. Returns how many. Every
/// descriptor is checked: its class, index and length must be in range, and its buffer must be
/// labelled as in flight on this very channel and direction, or the channel is poisoned.
pub fn recvMany(d: *Domain, index: u32, side: u32, out: []u32) Error!u32 {
    assert(out.len % 2 == 0);
    const ch = try validateSide(d, index, side);
    // Acquire: if we see EOF, we also see every push that came before it.
    const flags = @atomicLoad(u32, &ch.flags, .acquire);
    if (flags & layout.flag.reset != 0) return error.Reset;
    const direction = 1 - side;
    const ring = d.ringAt(index, direction);
    const ready = ring.available(@intCast(@min(out.len / 2, d.config.ring_capacity))) catch {
        poison(d, index, ch, side);
        return error.Corrupt;
    };
    if (ready == 0) {
        if (flags & (eofBit(direction) | goneBit(1 - side)) != 0) return error.Closed;
        return error.WouldBlock;
    }
    const wanted: u32 = @intCast(@min(ready, out.len / 2));
    const label = layout.ownerInflight(index, direction);
    const me = layout.ownerNode(d.node);
    var count: u32 = 0;
    while (count < wanted) : (count += 1) {
        const item = ring.peek(count);
        const id = layout.descriptorBuffer(item);
        const length = layout.descriptorLength(item);
        const buffer = buffers.validate(d, id, length);
        const owned = if (buffer) |b| d.poolAt(b.class).transfer(b.index, label, me) else false;
        if (!owned) {
            ring.consume(count + 1);
            poison(d, index, ch, side);
            if (count > 0) return count; // deliver the good prefix; the next call reports it
            return error.Corrupt;
        }
        out[2 * count] = id;
        out[2 * count + 1] = length;
    }
    assert(count > 0 and count <= wanted);
    ring.consume(count);
    wakeProducer(d, ring, ch, index, side);
    return count;
}

/// Asks to be notified when the receive ring of `side` has data or the channel changes state.
/// Returns true if that is already the case (the caller should not wait).
pub fn armRecv(d: *Domain, index: u32, side: u32) Error!bool {
    const ch = try validateSide(d, index, side);
    assert(d.locals[index][side].open);
    const ring = d.ringAt(index, 1 - side);
    // W1 of the wake-up protocol (events.zig); the `available` below is W2.
    @atomicStore(u32, &ring.header.consumer_waiting, 1, .seq_cst);
    const ready = ring.available(1) catch return true;
    if (ready > 0) return true;
    const flags = @atomicLoad(u32, &ch.flags, .seq_cst);
    return flags & (layout.flag.reset | eofBit(1 - side) | goneBit(1 - side)) != 0;
}

pub const Received = union(enum) {
    /// A message: its buffer id and length.
    message: [2]u32,
    /// Nothing yet: the ring is armed (and the node parked, if asked). `news`: something for
    /// this node arrived meanwhile (this or another channel), so its events should be drained.
    waiting: struct { news: bool },
};

/// Receives one message, or, if none is ready, arms the receive ring of `side` and (with
/// `park`) parks this node: one call for what a waiting receiver does, since every call costs
/// microseconds in a runtime woken from idle.
pub fn recvWait(d: *Domain, index: u32, side: u32, park: bool) Error!Received {
    var pair: [2]u32 = undefined;
    for (0..2) |_| {
        const got = recvMany(d, index, side, &pair) catch |err| switch (err) {
            error.WouldBlock => 0,
            else => return err,
        };
        if (got == 1) return .{ .message = pair };
        // Ready once armed: a message (or a state change) slipped in before the arm.
        if (try armRecv(d, index, side)) continue;
        return .{ .waiting = .{ .news = park and d.park() } };
    }
    // Armed but still nothing to receive: a state change (close, reset) the caller's retry
    // reports.
    return .{ .waiting = .{ .news = true } };
}

/// Asks to be notified when the peer takes messages off the send ring of `side`. Returns true if
/// fewer than `window` messages are already waiting there (0 means the ring's capacity).
pub fn armSend(d: *Domain, index: u32, side: u32, window: u32) Error!bool {
    const ch = try validateSide(d, index, side);
    assert(d.locals[index][side].open);
    const ring = d.ringAt(index, side);
    const limit = if (window == 0 or window > d.config.ring_capacity) d.config.ring_capacity else window;
    // W1 of the wake-up protocol (events.zig); the `free` below is W2.
    @atomicStore(u32, &ring.header.producer_waiting, 1, .seq_cst);
    const room = ring.free(ring.capacity) catch return true;
    if (ring.capacity - room < limit) return true;
    const flags = @atomicLoad(u32, &ch.flags, .seq_cst);
    return flags & (layout.flag.reset | goneBit(1 - side)) != 0;
}

/// Messages this side sent that the peer has not received yet.
pub fn pending(d: *Domain, index: u32, side: u32) Error!u32 {
    _ = try validateSide(d, index, side);
    return d.ringAt(index, side).length();
}

/// The channel's flags as this side sees them, for the JS layer's state checks.
pub fn flagsOf(d: *Domain, index: u32, side: u32) Error!u32 {
    const ch = try validateSide(d, index, side);
    return @atomicLoad(u32, &ch.flags, .acquire);
}

/// Half-close: the peer reads end-of-stream once it has drained what we sent.
pub fn closeWrite(d: *Domain, index: u32, side: u32) Error!void {
    const ch = try validateSide(d, index, side);
    // Release: pairs with the acquire load of the flags in `recvMany`; our pushes come first.
    const previous = @atomicRmw(u32, &ch.flags, .Or, eofBit(side), .acq_rel);
    if (previous & eofBit(side) == 0) d.notify(peerOf(d, index, ch, side), index);
}

/// Full close of one side: drains what we did not read, then marks the side gone. The last side
/// out tears the channel down. A slot that was freed and taken again meanwhile (see
/// `validateSide`) is left alone: only this process's record of it goes.
pub fn close(d: *Domain, index: u32, side: u32) Error!void {
    if (index >= d.config.channel_max or side > 1) return error.Invalid;
    const local = d.locals[index][side];
    if (!local.open) return error.Invalid;
    defer d.locals[index][side] = .{};
    const ch = d.channelAt(index);
    if (@atomicLoad(u32, &ch.generation, .acquire) != local.generation) return;
    const ring = d.ringAt(index, 1 - side);
    const label = layout.ownerInflight(index, 1 - side);
    var items: [64]u64 = undefined;
    var rounds: u32 = 0;
    while (rounds < d.config.ring_capacity) : (rounds += 1) {
        const n = ring.popMany(&items) catch break;
        if (n == 0) break;
        for (items[0..n]) |item| releaseLabelled(d, layout.descriptorBuffer(item), label);
    }
    closeSide(d, index, side, false);
}

fn releaseLabelled(d: *Domain, id: u32, label: u32) void {
    const buffer = buffers.validate(d, id, 0) orelse return;
    if (d.poolAt(buffer.class).release(buffer.index, label)) d.wakePoolWaiters(buffer.class);
}

pub fn closeSide(d: *Domain, index: u32, side: u32, died: bool) void {
    assert(side <= 1);
    const ch = d.channelAt(index);
    // One compare-and-swap sets every bit at once, so that a reader never sees the end without
    // the reset that comes with it; and a side that was closed before it died stays a clean end.
    var previous = @atomicLoad(u32, &ch.flags, .acquire);
    while (true) {
        if (previous & goneBit(side) != 0) return;
        var next = previous | goneBit(side) | eofBit(side);
        if (died) next |= layout.flag.reset;
        // Acq_rel: pairs with the acquire loads of the flags in `recvMany` and `sendMany`.
        previous = @cmpxchgWeak(u32, &ch.flags, previous, next, .acq_rel, .acquire) orelse break;
    }
    if (previous & goneBit(1 - side) != 0) {
        teardown(d, index);
    } else {
        d.notify(peerOf(d, index, ch, side), index);
    }
}

/// Called for every channel when `node` leaves or dies: closes the sides it holds.
pub fn closeNodeSides(d: *Domain, index: u32, node: u32, died: bool) void {
    const ch = d.channelAt(index);
    const status = @atomicLoad(u32, &ch.status, .acquire);
    switch (layout.channelStatusState(status)) {
        .free => return,
        .claimed => {
            // A connect that never finished: only its client can be holding it.
            if (layout.channelStatusClient(status) != node) return;
            if (@cmpxchgStrong(u32, &ch.status, status, 0, .acq_rel, .monotonic) == null) {
                _ = @atomicRmw(u32, &ch.generation, .Add, 1, .monotonic);
            }
        },
        .open => {
            if (@atomicLoad(u32, &ch.client, .monotonic) == node) closeSide(d, index, 0, died);
            if (@atomicLoad(u32, &ch.server, .monotonic) == node) closeSide(d, index, 1, died);
        },
    }
}

/// Frees a channel whose two sides are gone: returns the buffers still in its rings (and, after a
/// crash or corruption, any buffer still labelled as in flight on it) and frees the slot.
fn teardown(d: *Domain, index: u32) void {
    const ch = d.channelAt(index);
    const flags = @atomicLoad(u32, &ch.flags, .acquire);
    // Only the last side out tears down: both are gone.
    assert(flags & layout.flag.client_gone != 0 and flags & layout.flag.server_gone != 0);
    var items: [64]u64 = undefined;
    for (0..2) |direction| {
        const ring = d.ringAt(index, @intCast(direction));
        const label = layout.ownerInflight(index, @intCast(direction));
        var rounds: u32 = 0;
        while (rounds < d.config.ring_capacity) : (rounds += 1) {
            const n = ring.popMany(&items) catch break;
            if (n == 0) break;
            for (items[0..n]) |item| releaseLabelled(d, layout.descriptorBuffer(item), label);
        }
        ring.reset();
    }
    if (flags & (layout.flag.reset | layout.flag.corrupt) != 0) {
        // A sender killed between labelling a buffer and pushing its descriptor leaves a label
        // with no descriptor. Only a death or a corrupt ring can do that, so only then we scan.
        for (0..d.config.class_count) |class| {
            const freed = d.poolAt(@intCast(class)).reclaim(index, inflightOn);
            if (freed > 0) d.wakePoolWaiters(@intCast(class));
        }
    }
    @atomicStore(u32, &ch.flags, 0, .monotonic);
    _ = @atomicRmw(u32, &ch.generation, .Add, 1, .monotonic);
    // Release: pairs with the acquire in `claim`; the reset rings are visible to the next owner.
    @atomicStore(u32, &ch.status, 0, .release);
}

fn inflightOn(index: u32, label: u32) bool {
    return layout.ownerIsInflightOn(label, index);
}

/// Plants a raw descriptor in a ring as if a peer had written it. For tests of validation only.
pub fn debugPlant(d: *Domain, index: u32, direction: u32, item: u64) Error!void {
    if (index >= d.config.channel_max or direction > 1) return error.Invalid;
    d.ringAt(index, direction).push(item) catch return error.WouldBlock;
    const ch = d.channelAt(index);
    d.notify(@atomicLoad(u32, if (direction == 0) &ch.server else &ch.client, .monotonic), index);
}
