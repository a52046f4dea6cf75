//! Nodes: joining a domain as one, liveness (each node holds a lock byte of the domain file for as
//! long as its process lives, and the kernel drops it when the process dies), and the clean-up
//! of what a dead node held.

const std = @import("std");
const assert = std.debug.assert;
const sys = @import("sys.zig");
const layout = @import("layout.zig");
const domain_mod = @import("domain.zig");
const channel = @import("channel.zig");
const events = @import("events.zig");
const Domain = domain_mod.Domain;
const Error = domain_mod.Error;
const path_bytes_max = domain_mod.path_bytes_max;
const nodeLockByte = domain_mod.nodeLockByte;

/// Checks every other node's liveness lock and reclaims the dead. Returns how many it reclaimed.
pub fn probePeers(d: *Domain) u32 {
    var suspects: u32 = 0;
    for (0..d.config.node_max) |i| {
        const index: u32 = @intCast(i);
        if (index == d.node) continue;
        const status = @atomicLoad(u32, &d.nodeAt(index).status, .acquire);
        if (layout.nodeStatusState(status) == .free) continue;
        if (!sys.lockHeld(d.fd, nodeLockByte(index))) suspects += 1;
    }
    if (suspects == 0) return 0;
    // A lock held too long: the next probe tries again.
    d.lockControl() catch return 0;
    defer d.unlockControl();
    return deadLocked(d, true);
}

/// Nodes whose process died and that nobody reclaimed yet, reclaimed if `reclaim` (else only
/// counted, for `xio gc --dry-run`). Caller holds the control lock.
pub fn deadLocked(d: *Domain, reclaim: bool) u32 {
    var dead: u32 = 0;
    for (0..d.config.node_max) |i| {
        const index: u32 = @intCast(i);
        if (d.joined and index == d.node) continue; // a handle joining has no slot yet
        const status = @atomicLoad(u32, &d.nodeAt(index).status, .acquire);
        if (layout.nodeStatusState(status) == .free) continue;
        // Under the control lock nobody joins or leaves, so a held lock means alive and a
        // free lock on a non-free slot means its process died (clean leavers free the slot
        // before they drop the lock).
        if (sys.lockHeld(d.fd, nodeLockByte(index))) continue;
        if (reclaim) cleanupNodeLocked(d, index, status);
        dead += 1;
    }
    return dead;
}

/// Reclaims everything a dead node held. Idempotent, so a clean-up interrupted by the death of
/// the cleaner is finished by the next one. Caller holds the control lock.
fn cleanupNodeLocked(d: *Domain, index: u32, status: u32) void {
    const node = d.nodeAt(index);
    const generation = layout.nodeStatusGeneration(status);
    const cleaning = layout.nodeStatus(.cleaning, generation);
    if (@cmpxchgStrong(u32, &node.status, status, cleaning, .acq_rel, .acquire)) |seen| {
        if (seen != cleaning) return;
    }
    removeNodeLocked(d, index, true);
    _ = @atomicRmw(u64, &d.header().nodes_reclaimed, .Add, 1, .monotonic);
    // Release: the clean-up above is complete before anyone can take the slot again.
    @atomicStore(u32, &node.status, layout.nodeStatus(.free, generation +% 1), .release);
}

/// Unregisters a node's services, closes its channels and frees its buffers. `died` marks its
/// channels reset rather than closed. Caller holds the control lock.
pub fn removeNodeLocked(d: *Domain, index: u32, died: bool) void {
    for (0..d.config.service_max) |s| {
        const service = d.serviceAt(@intCast(s));
        if (@atomicLoad(u32, &service.state, .acquire) != @backingInt(layout.ServiceState.active)) continue;
        if (@atomicLoad(u32, &service.node, .monotonic) != index) continue;
        channel.unregisterLocked(d, service);
    }
    for (0..d.config.channel_max) |c| channel.closeNodeSides(d, @intCast(c), index, died);
    const label = layout.ownerNode(index);
    for (0..d.config.class_count) |class| {
        const freed = d.poolAt(@intCast(class)).reclaim(label, labelEquals);
        if (freed > 0) events.wakePoolWaiters(d, @intCast(class));
    }
    const words = d.eventWords(index);
    for (0..d.config.channel_max / 64) |w| @atomicStore(u64, &words[w], 0, .monotonic);
    const node = d.nodeAt(index);
    @atomicStore(u64, &node.summary, 0, .monotonic);
    @atomicStore(u32, &node.pool_event, 0, .monotonic);
    @atomicStore(u32, &node.parked, 0, .monotonic);
    @atomicStore(u32, &node.bell_ready, 0, .monotonic);
    // Its doorbell socket goes with it: the path of this incarnation of the slot, so that
    // nothing of a later process in the slot is touched (see `events.bellPathIn`).
    events.bellDrop(d, index);
    var buffer: [path_bytes_max]u8 = undefined;
    const generation = layout.nodeStatusGeneration(@atomicLoad(u32, &node.status, .acquire));
    if (events.bellPath(d, &buffer, index, generation)) |path| {
        buffer[path.len] = 0;
        sys.unlink(buffer[0..path.len :0]);
    }
    for (0..d.config.class_count) |class| {
        const cls = &d.header().classes[class];
        const bit = @as(u64, 1) << @intCast(index % 64);
        _ = @atomicRmw(u64, &cls.waiting_nodes[index / 64], .And, ~bit, .monotonic);
    }
}

pub fn joinLocked(d: *Domain, runtime: u32) Error!void {
    _ = deadLocked(d, true);
    for (0..d.config.node_max) |i| {
        const index: u32 = @intCast(i);
        const node = d.nodeAt(index);
        const status = @atomicLoad(u32, &node.status, .acquire);
        if (layout.nodeStatusState(status) != .free) continue;
        const locked = sys.lockTry(d.fd, nodeLockByte(index)) catch return error.Io;
        if (!locked) continue;
        d.node = index;
        d.node_generation = layout.nodeStatusGeneration(status);
        d.joined = true;
        @atomicStore(u32, &node.pid, sys.getpid(), .monotonic);
        @atomicStore(u32, &node.runtime, runtime, .monotonic);
        @atomicStore(u64, &node.started_ms, sys.realtimeMs(), .monotonic);
        @atomicStore(u64, &node.summary, 0, .monotonic);
        @atomicStore(u32, &node.pool_event, 0, .monotonic);
        @atomicStore(u32, &node.parked, 0, .monotonic);
        @atomicStore(u32, &node.bell_ready, 0, .monotonic);
        const words = d.eventWords(index);
        for (0..d.config.channel_max / 64) |w| @atomicStore(u64, &words[w], 0, .monotonic);
        // Release: the fields above are set before anyone sees the slot as active.
        @atomicStore(u32, &node.status, layout.nodeStatus(.active, d.node_generation), .release);
        return;
    }
    return error.Full;
}

/// Counts live nodes other than this one, reclaiming dead ones on the way.
pub fn othersAliveLocked(d: *Domain) u32 {
    _ = deadLocked(d, true);
    var alive: u32 = 0;
    for (0..d.config.node_max) |i| {
        const index: u32 = @intCast(i);
        if (index == d.node) continue;
        const status = @atomicLoad(u32, &d.nodeAt(index).status, .acquire);
        if (layout.nodeStatusState(status) != .free) alive += 1;
    }
    return alive;
}

fn labelEquals(expected: u32, label: u32) bool {
    return label == expected;
}
