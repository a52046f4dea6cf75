//! Snapshots: what a domain holds right now, for `xio stat`, `xio watch` and `metrics()`. Taken
//! through any handle: a joined node's, or an inspector's (`file.inspect`), which maps the file
//! read-only and takes no node slot. Nothing here writes to shared memory or takes a lock, so a
//! snapshot never disturbs traffic; and since what it reads is written by others meanwhile, it is
//! a picture of a moment per field, not one atomic cut of the whole.
//!
//! Everything read from shared memory is untrusted here as everywhere: slot indices come from the
//! validated layout, and values are reported as read (an owner word that names nothing is
//! counted as invalid, a ring distance past its capacity is clamped), never used to index.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("abi.zig");
const layout = @import("layout.zig");
const sys = @import("sys.zig");
const domain_mod = @import("domain.zig");
const Domain = domain_mod.Domain;

const Snap = abi.Snap;
const SnapNode = abi.SnapNode;
const SnapService = abi.SnapService;
const SnapChannel = abi.SnapChannel;
const SnapClass = abi.SnapClass;

/// The most words a snapshot of `d` takes: every slot in use.
pub fn wordsMax(d: *const Domain) u32 {
    return Snap.words + d.config.node_max * SnapNode.words + d.config.service_max * SnapService.words +
        d.config.channel_max * SnapChannel.words + d.config.class_count * SnapClass.words;
}

pub fn namesMax(d: *const Domain) u32 {
    return d.config.service_max * layout.name_bytes_max;
}

fn f(value: anytype) f64 {
    return @floatFromInt(value);
}

/// Writes a snapshot of `d` to `out` and the service names to `names` (see `abi.Snap`). Returns
/// the words written.
///
/// Truncated if the file is now shorter than its layout: reading the mapping past its end would
/// raise SIGBUS, and only its owner can have shortened it, so an inspector of someone else's
/// domain says so instead of crashing. (A truncation during the few microseconds of a snapshot
/// still gets through.)
pub fn snapshot(d: *const Domain, out: []f64, names: []u8) error{ TooSmall, Truncated }!u32 {
    if (out.len < wordsMax(d) or names.len < namesMax(d)) return error.TooSmall;
    const config = d.config;
    const h = d.header();
    const info: ?sys.FileInfo = sys.fstat(d.fd) catch null;
    if (info) |i| if (i.size_bytes < d.size) return error.Truncated;
    @memset(out[0..Snap.words], 0);
    out[Snap.version] = f(layout.version);
    out[Snap.size] = f(d.size);
    out[Snap.backing] = f(@backingInt(d.backing));
    out[Snap.node_max] = f(config.node_max);
    out[Snap.service_max] = f(config.service_max);
    out[Snap.channel_max] = f(config.channel_max);
    out[Snap.ring_capacity] = f(config.ring_capacity);
    out[Snap.class_count] = f(config.class_count);
    out[Snap.corrupt] = f(@atomicLoad(u64, &h.corrupt_descriptors, .monotonic));
    out[Snap.reclaimed] = f(@atomicLoad(u64, &h.nodes_reclaimed, .monotonic));
    out[Snap.channels_opened] = f(@atomicLoad(u64, &h.channels_opened, .monotonic));
    out[Snap.creator_pid] = f(@atomicLoad(u32, &h.creator_pid, .monotonic));
    if (info) |i| {
        out[Snap.uid] = f(i.uid);
        out[Snap.gid] = f(i.gid);
        out[Snap.mode] = f(i.mode & 0o7777);
        out[Snap.inode] = f(i.inode);
        out[Snap.links] = f(i.links);
    }
    out[Snap.taken_ms] = f(sys.realtimeMs());
    out[Snap.self_node] = if (d.joined) f(d.node) else -1;

    var at: u32 = Snap.words;
    // Which nodes are alive, for the buffer census below.
    var alive: [layout.node_max_limit]bool = @splat(false);
    var active: [layout.node_max_limit]bool = @splat(false);
    var count: u32 = 0;
    for (0..config.node_max) |i| {
        const index: u32 = @intCast(i);
        const node = d.nodeAt(index);
        const status = @atomicLoad(u32, &node.status, .acquire);
        const state = layout.nodeStatusState(status);
        if (state == .free) continue;
        active[index] = true;
        // Our own lock is on our own open file description, which a test of it does not see.
        alive[index] = (d.joined and index == d.node) or sys.lockHeld(d.fd, domain_mod.nodeLockByte(index));
        const record = out[at..][0..SnapNode.words];
        record.* = @splat(0);
        record[SnapNode.index] = f(index);
        record[SnapNode.state] = f(@backingInt(state));
        record[SnapNode.generation] = f(layout.nodeStatusGeneration(status));
        record[SnapNode.pid] = f(@atomicLoad(u32, &node.pid, .monotonic));
        record[SnapNode.runtime] = f(@atomicLoad(u32, &node.runtime, .monotonic));
        record[SnapNode.started_ms] = f(@atomicLoad(u64, &node.started_ms, .monotonic));
        record[SnapNode.alive] = f(@intFromBool(alive[index]));
        record[SnapNode.parked] = f(@atomicLoad(u32, &node.parked, .monotonic) & 1);
        at += SnapNode.words;
        count += 1;
    }
    out[Snap.nodes] = f(count);

    count = 0;
    for (0..config.service_max) |i| {
        const index: u32 = @intCast(i);
        const service = d.serviceAt(index);
        if (@atomicLoad(u32, &service.state, .acquire) != @backingInt(layout.ServiceState.active)) continue;
        const name_len = @min(@atomicLoad(u32, &service.name_len, .monotonic), layout.name_bytes_max);
        const name = names[count * layout.name_bytes_max ..][0..layout.name_bytes_max];
        for (0..name_len) |b| name[b] = @atomicLoad(u8, &service.name[b], .monotonic);
        const record = out[at..][0..SnapService.words];
        record[SnapService.index] = f(index);
        record[SnapService.node] = f(@atomicLoad(u32, &service.node, .monotonic));
        record[SnapService.generation] = f(@atomicLoad(u32, &service.generation, .monotonic));
        record[SnapService.name_len] = f(name_len);
        at += SnapService.words;
        count += 1;
    }
    out[Snap.services] = f(count);

    count = 0;
    for (0..config.channel_max) |i| {
        const index: u32 = @intCast(i);
        const ch = d.channelAt(index);
        const status = @atomicLoad(u32, &ch.status, .acquire);
        const state = layout.channelStatusState(status);
        if (state == .free) continue;
        const record = out[at..][0..SnapChannel.words];
        record.* = @splat(0);
        record[SnapChannel.index] = f(index);
        record[SnapChannel.state] = f(@backingInt(state));
        record[SnapChannel.generation] = f(@atomicLoad(u32, &ch.generation, .monotonic));
        record[SnapChannel.service] = f(@atomicLoad(u32, &ch.service, .monotonic));
        record[SnapChannel.client] = f(@atomicLoad(u32, &ch.client, .monotonic));
        record[SnapChannel.server] = f(@atomicLoad(u32, &ch.server, .monotonic));
        record[SnapChannel.flags] = f(@atomicLoad(u32, &ch.flags, .monotonic) & 0x7fff_ffff);
        const c2s = d.ringAt(index, 0).header;
        const s2c = d.ringAt(index, 1).header;
        record[SnapChannel.c2s_messages] = f(@atomicLoad(u64, &c2s.messages, .monotonic));
        record[SnapChannel.c2s_bytes] = f(@atomicLoad(u64, &c2s.bytes, .monotonic));
        record[SnapChannel.c2s_fill] = f(fill(c2s, config.ring_capacity));
        record[SnapChannel.s2c_messages] = f(@atomicLoad(u64, &s2c.messages, .monotonic));
        record[SnapChannel.s2c_bytes] = f(@atomicLoad(u64, &s2c.bytes, .monotonic));
        record[SnapChannel.s2c_fill] = f(fill(s2c, config.ring_capacity));
        // Each end records its poll mode in the ring it receives from.
        record[SnapChannel.client_poll] = f(@min(@atomicLoad(u32, &s2c.poll_mode, .monotonic), abi.PollMode.spin + 1));
        record[SnapChannel.server_poll] = f(@min(@atomicLoad(u32, &c2s.poll_mode, .monotonic), abi.PollMode.spin + 1));
        at += SnapChannel.words;
        count += 1;
    }
    out[Snap.channels] = f(count);

    for (0..config.class_count) |c| {
        const class: u32 = @intCast(c);
        const record = out[at..][0..SnapClass.words];
        record.* = @splat(0);
        var census: [4]u32 = @splat(0); // free, held, in flight, held by the dead
        var invalid: u32 = 0;
        const pool = d.poolAt(class);
        for (0..pool.count) |b| {
            const owner = @atomicLoad(u32, &pool.owners[b], .monotonic);
            if (owner == layout.owner_free) {
                census[0] += 1;
            } else if (owner & 0xc000_0000 == 0x4000_0000) {
                const node = owner & 0x3fff_ffff;
                if (node >= config.node_max or !active[node]) {
                    invalid += 1;
                } else if (alive[node]) {
                    census[1] += 1;
                } else {
                    census[3] += 1;
                }
            } else if (owner & 0xc000_0000 == 0x8000_0000 and (owner & 0x3fff_ffff) >> 1 < config.channel_max) {
                census[2] += 1;
            } else {
                invalid += 1;
            }
        }
        record[SnapClass.size] = f(config.class_sizes[class]);
        record[SnapClass.count] = f(config.class_counts[class]);
        record[SnapClass.free] = f(census[0]);
        record[SnapClass.held] = f(census[1]);
        record[SnapClass.inflight] = f(census[2]);
        record[SnapClass.held_dead] = f(census[3]);
        record[SnapClass.invalid] = f(invalid);
        record[SnapClass.allocations] = f(@atomicLoad(u64, &h.classes[class].allocations, .monotonic));
        at += SnapClass.words;
    }
    assert(at <= wordsMax(d));
    return at;
}

/// Descriptors sent and not yet received, clamped to the capacity (a larger distance is a corrupt
/// ring, which its consumer reports).
fn fill(ring: *const layout.RingHeader, capacity: u32) u32 {
    const tail = @atomicLoad(u32, &ring.tail, .monotonic);
    const head = @atomicLoad(u32, &ring.head, .monotonic);
    return @min(tail -% head, capacity);
}
