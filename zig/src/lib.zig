//! The C ABI of libxio. Every function returns a status (negative) or a non-negative result, and
//! never panics on bad input: a handle is trusted (it came from `xio_open`), everything else is
//! checked. The ABI is declared once, in abi.zig; the checks at the end of this file keep these
//! exports and the layout in step with it.

const std = @import("std");
const abi = @import("abi.zig");
const layout = @import("layout.zig");
const domain_mod = @import("domain.zig");
const channel = @import("channel.zig");
const buffers = @import("buffer.zig");
const sys = @import("sys.zig");
const inspect = @import("inspect.zig");
const file = @import("file.zig");
const Domain = domain_mod.Domain;

pub const Status = abi.Status;

fn code(status: Status) i32 {
    return @backingInt(status);
}

fn channelCode(err: channel.Error) i32 {
    return code(switch (err) {
        error.WouldBlock => .would_block,
        error.Closed => .closed,
        error.Reset => .reset,
        error.Corrupt => .corrupt,
        error.Invalid => .invalid,
        error.Pipe => .pipe,
        error.State => .state,
        error.Refused => .refused,
        error.NotFound => .not_found,
        error.InUse => .in_use,
        error.Full => .full,
        error.TooBig => .too_big,
        error.LockTimeout => .lock_timeout,
    });
}

fn domainCode(err: domain_mod.Error) i32 {
    return code(switch (err) {
        error.InvalidName => .invalid_name,
        error.InvalidConfig => .invalid_config,
        error.NotFound => .not_found,
        error.NotDomain => .not_domain,
        error.Version => .version,
        error.Truncated => .truncated,
        error.Layout => .layout,
        error.NoSpace => .no_space,
        error.PermissionDenied => .permission,
        error.Full => .full,
        error.Busy => .busy,
        error.HugepagesUnavailable => .hugepages_unavailable,
        error.PathTooLong => .path_too_long,
        error.NotRegular => .not_regular,
        error.ForeignOwner => .foreign_owner,
        error.LockTimeout => .lock_timeout,
        error.Io => .io,
    });
}

const Opt = abi.Opt;
const option_none = abi.Const.option_none;

/// The layout version of the domains this library makes and joins.
pub export fn xio_version() u32 {
    return layout.version;
}

/// The version of this ABI: the loaders refuse a library whose version is not theirs.
pub export fn xio_abi_version() u32 {
    return abi.version;
}

/// Tries the system calls the core needs: 0 if all work, otherwise which failed first
/// (`sys.KernelCall`) with its errno in `errno_out[0]`. The loaders call it once, so that an old
/// kernel or a seccomp filter gives a clear error before anything depends on those calls.
pub export fn xio_kernel_check(errno_out: *[1]i32) i32 {
    const gap = sys.kernelCheck() orelse return 0;
    errno_out[0] = @intCast(gap.errno);
    return @intCast(@intFromEnum(gap.call));
}

/// Opens (or creates) and joins a domain. On failure returns null and writes the status to
/// `status[0]` and a detail (such as the version found) to `status[1]`.
pub export fn xio_open(
    name_ptr: [*]const u8,
    name_len: u32,
    dir_ptr: [*]const u8,
    dir_len: u32,
    options_ptr: [*]const u32,
    status: *[2]i32,
) ?*Domain {
    const options = optionsOf(options_ptr[0..Opt.words], dir_ptr[0..dir_len]);
    var detail: u32 = 0;
    const d = domain_mod.openDetailed(name_ptr[0..name_len], options, &detail) catch |err| {
        status[0] = domainCode(err);
        status[1] = @bitCast(detail);
        return null;
    };
    status[0] = 0;
    status[1] = 0;
    return d;
}

/// The options of `xio_open` and `xio_gc`, from their option words.
fn optionsOf(o: *const [Opt.words]u32, dir: []const u8) domain_mod.Options {
    var config: layout.Config = .{
        .node_max = o[Opt.node_max],
        .service_max = o[Opt.service_max],
        .channel_max = o[Opt.channel_max],
        .ring_capacity = o[Opt.ring_capacity],
        .class_count = o[Opt.class_count],
        .class_sizes = o[Opt.class_sizes..][0..layout.class_count_max].*,
        .class_counts = o[Opt.class_counts..][0..layout.class_count_max].*,
    };
    for (config.class_count..layout.class_count_max) |c| {
        if (c >= layout.class_count_max) break;
        config.class_sizes[c] = 0;
        config.class_counts[c] = 0;
    }
    return .{
        .create = o[Opt.flags] & 1 != 0,
        .hugepages = std.enums.fromInt(domain_mod.Options.Hugepages, o[Opt.hugepages]) orelse .auto,
        .mode = o[Opt.mode] & 0o777,
        .runtime = o[Opt.runtime],
        .config = config,
        .dir = dir,
        .trust = .{
            .group = if (o[Opt.group] == option_none) null else o[Opt.group],
            .owners = o[Opt.owners..][0..Opt.owners_max].*,
        },
        .lock_timeout_ns = @as(u64, o[Opt.lock_timeout_ms]) * std.time.ns_per_ms,
    };
}

/// Leaves the domain and frees the handle; an inspector's handle is only unmapped.
pub export fn xio_close(d: *Domain) void {
    d.assertReadable();
    if (d.read_only) file.closeInspector(d) else domain_mod.leave(d);
}

/// Opens the domain file at `path` read-only, to inspect it (see `file.inspect`). On failure
/// returns null with the status in `status[0]` and a detail in `status[1]`, as `xio_open`.
pub export fn xio_inspect(path_ptr: [*]const u8, path_len: u32, status: *[2]i32) ?*Domain {
    var buffer: [domain_mod.path_bytes_max]u8 = undefined;
    if (path_len == 0 or path_len >= buffer.len) {
        status.* = .{ code(.invalid_name), 0 };
        return null;
    }
    @memcpy(buffer[0..path_len], path_ptr[0..path_len]);
    buffer[path_len] = 0;
    var detail: u32 = 0;
    const d = domain_mod.inspect(buffer[0..path_len :0], &detail) catch |err| {
        status.* = .{ domainCode(err), @bitCast(detail) };
        return null;
    };
    status.* = .{ 0, 0 };
    return d;
}

/// Writes a snapshot of the domain (abi.Snap) to `out` and the service names to `names`.
/// Returns the words written, or `invalid` when either is too small, with the words needed in
/// `out[0]` and the name bytes needed in `out[1]` (if `len` >= 2), or `truncated` when the file
/// is shorter than its layout now (reading on would raise SIGBUS).
pub export fn xio_snapshot(d: *Domain, out: [*]f64, len: u32, names: [*]u8, names_len: u32) i32 {
    d.assertReadable();
    return @intCast(inspect.snapshot(d, out[0..len], names[0..names_len]) catch |err| switch (err) {
        error.Truncated => return code(.truncated),
        error.TooSmall => {
            if (len >= 2) {
                out[0] = @floatFromInt(inspect.wordsMax(d));
                out[1] = @floatFromInt(inspect.namesMax(d));
            }
            return code(.invalid);
        },
    });
}

/// The words the largest snapshot of this domain takes.
pub export fn xio_snapshot_words(d: *Domain) i32 {
    d.assertReadable();
    return @intCast(inspect.wordsMax(d));
}

/// Collects domain `name` (see `file.gc`): `result[0]` says what it did (abi.Gc), `result[1]`
/// how many dead nodes it reclaimed. Returns 0 or a status.
pub export fn xio_gc(
    name_ptr: [*]const u8,
    name_len: u32,
    dir_ptr: [*]const u8,
    dir_len: u32,
    options_ptr: [*]const u32,
    dry_run: u32,
    result: *[2]i32,
) i32 {
    const name = nameOf(name_ptr, name_len) orelse return code(.invalid_name);
    const options = optionsOf(options_ptr[0..Opt.words], dir_ptr[0..dir_len]);
    const done = domain_mod.gc(name, options, dry_run != 0) catch |err| return domainCode(err);
    result.* = .{ @intCast(done.action), @intCast(done.count) };
    return 0;
}

/// Writes the path of the domain file to `out`; returns its length, or `invalid` if `len` is
/// too small.
pub export fn xio_domain_path(d: *Domain, out: [*]u8, len: u32) i32 {
    d.assertReadable();
    var buffer: [domain_mod.path_bytes_max + 80]u8 = undefined;
    const path = std.fmt.bufPrint(&buffer, "{s}/xio-{s}", .{ d.dir[0..d.dir_len], d.name[0..d.name_len] }) catch
        return code(.path_too_long);
    if (path.len > len) return code(.invalid);
    @memcpy(out[0..path.len], path);
    return @intCast(path.len);
}

pub export fn xio_io(d: *Domain) [*]u32 {
    d.assertValid();
    return &d.io;
}

pub export fn xio_events(d: *Domain) [*]u32 {
    d.assertValid();
    return &d.events;
}

pub export fn xio_base(d: *Domain) [*]u8 {
    d.assertValid();
    return d.base;
}

/// Writes statistics as doubles (exact up to 2^53), in the slots of `abi.Stat`.
pub export fn xio_stats(d: *Domain, out: [*]f64, len: u32) i32 {
    d.assertValid();
    if (len < abi.Stat.words) return code(.invalid);
    const h = d.header();
    var nodes_active: u32 = 0;
    for (0..d.config.node_max) |i| {
        const status = @atomicLoad(u32, &d.nodeAt(@intCast(i)).status, .acquire);
        if (layout.nodeStatusState(status) != .free) nodes_active += 1;
    }
    var channels_open: u32 = 0;
    for (0..d.config.channel_max) |i| {
        const status = @atomicLoad(u32, &d.channelAt(@intCast(i)).status, .acquire);
        if (layout.channelStatusState(status) != .free) channels_open += 1;
    }
    var services_active: u32 = 0;
    for (0..d.config.service_max) |i| {
        if (@atomicLoad(u32, &d.serviceAt(@intCast(i)).state, .acquire) != 0) services_active += 1;
    }
    const values = [abi.Stat.class]f64{
        @floatFromInt(layout.version),
        @floatFromInt(d.size),
        @floatFromInt(@backingInt(d.backing)),
        @floatFromInt(d.node),
        @floatFromInt(d.config.node_max),
        @floatFromInt(nodes_active),
        @floatFromInt(d.config.channel_max),
        @floatFromInt(channels_open),
        @floatFromInt(d.config.service_max),
        @floatFromInt(services_active),
        @floatFromInt(d.config.ring_capacity),
        @floatFromInt(d.config.class_count),
        @floatFromInt(@atomicLoad(u64, &h.corrupt_descriptors, .monotonic)),
        @floatFromInt(@atomicLoad(u64, &h.nodes_reclaimed, .monotonic)),
        @floatFromInt(@atomicLoad(u64, &h.channels_opened, .monotonic)),
        @floatFromInt(@atomicLoad(u32, &h.creator_pid, .monotonic)),
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    };
    @memcpy(out[0..abi.Stat.class], &values);
    for (0..layout.class_count_max) |c| {
        const at = abi.Stat.class + abi.Stat.class_stride * c;
        if (c >= d.config.class_count) {
            @memset(out[at .. at + abi.Stat.class_stride], 0);
            continue;
        }
        const pool = d.poolAt(@intCast(c));
        out[at + 0] = @floatFromInt(d.config.class_sizes[c]);
        out[at + 1] = @floatFromInt(d.config.class_counts[c]);
        out[at + 2] = @floatFromInt(pool.countFree());
        out[at + 3] = @floatFromInt(@atomicLoad(u64, &h.classes[c].allocations, .monotonic));
        out[at + 4] = @floatFromInt(d.offsets.data_offset[c]);
        out[at + 5] = 0;
    }
    return 0;
}

fn nameOf(ptr: [*]const u8, len: u32) ?[]const u8 {
    if (len > layout.name_bytes_max) return null;
    return ptr[0..len];
}

pub export fn xio_listen(d: *Domain, name_ptr: [*]const u8, name_len: u32) i32 {
    d.assertValid();
    const name = nameOf(name_ptr, name_len) orelse return code(.invalid_name);
    const index = channel.listen(d, name) catch |err| return switch (err) {
        error.Invalid => code(.invalid_name),
        else => channelCode(err),
    };
    return @intCast(index);
}

pub export fn xio_unlisten(d: *Domain, service: u32) i32 {
    d.assertValid();
    channel.unlisten(d, service) catch |err| return channelCode(err);
    return 0;
}

pub export fn xio_connect(d: *Domain, name_ptr: [*]const u8, name_len: u32) i32 {
    d.assertValid();
    const name = nameOf(name_ptr, name_len) orelse return code(.invalid_name);
    const index = channel.connect(d, name) catch |err| return switch (err) {
        error.Invalid => code(.invalid_name),
        error.NotFound => code(.refused),
        else => channelCode(err),
    };
    return @intCast(index);
}

pub export fn xio_accept(d: *Domain, chan: u32) i32 {
    d.assertValid();
    const service = channel.accept(d, chan) catch |err| return channelCode(err);
    return @intCast(service);
}

pub export fn xio_refuse(d: *Domain, chan: u32) void {
    d.assertValid();
    channel.refuse(d, chan);
}

/// Sends one message. Returns 1 if the peer was asleep and this send rang its doorbell (it will
/// wake up, usually on this very core), 0 if it was sent to a peer awake, or a status.
pub export fn xio_send(d: *Domain, chan: u32, side: u32, id: u32, length: u32) i32 {
    d.assertValid();
    const pair = [2]u32{ id, length };
    d.rang = false;
    const sent = channel.sendMany(d, chan, side, &pair) catch |err| return channelCode(err);
    if (sent != 1) return code(.invalid);
    return @intFromBool(d.rang);
}

/// Sends the `count` (id, length) pairs at `io[2..]`. Returns how many were sent.
pub export fn xio_send_many(d: *Domain, chan: u32, side: u32, count: u32) i32 {
    d.assertValid();
    if (count == 0 or count > domain_mod.batch_max) return code(.invalid);
    const sent = channel.sendMany(d, chan, side, d.io[2 .. 2 + 2 * count]) catch |err| return channelCode(err);
    return @intCast(sent);
}

/// Receives one message: returns its buffer id and puts its length in `io[0]`.
pub export fn xio_recv(d: *Domain, chan: u32, side: u32) i32 {
    d.assertValid();
    var pair: [2]u32 = undefined;
    _ = channel.recvMany(d, chan, side, &pair) catch |err| return channelCode(err);
    d.io[0] = pair[1];
    return @intCast(pair[0]);
}

/// Receives up to `max` messages as (id, length) pairs at `io[2..]`. Returns how many.
pub export fn xio_recv_many(d: *Domain, chan: u32, side: u32, max: u32) i32 {
    d.assertValid();
    if (max == 0 or max > domain_mod.batch_max) return code(.invalid);
    const count = channel.recvMany(d, chan, side, d.io[2 .. 2 + 2 * max]) catch |err| return channelCode(err);
    return @intCast(count);
}

pub export fn xio_arm_recv(d: *Domain, chan: u32, side: u32) i32 {
    d.assertValid();
    const ready = channel.armRecv(d, chan, side) catch |err| return channelCode(err);
    return @intFromBool(ready);
}

pub export fn xio_arm_send(d: *Domain, chan: u32, side: u32, window: u32) i32 {
    d.assertValid();
    const ready = channel.armSend(d, chan, side, window) catch |err| return channelCode(err);
    return @intFromBool(ready);
}

/// Messages this side sent that the peer has not received yet.
pub export fn xio_pending(d: *Domain, chan: u32, side: u32) i32 {
    d.assertValid();
    const count = channel.pending(d, chan, side) catch |err| return channelCode(err);
    return @intCast(count);
}

pub export fn xio_flags(d: *Domain, chan: u32, side: u32) i32 {
    d.assertValid();
    const flags = channel.flagsOf(d, chan, side) catch |err| return channelCode(err);
    return @intCast(flags & 0x7fff_ffff);
}

pub export fn xio_close_write(d: *Domain, chan: u32, side: u32) i32 {
    d.assertValid();
    channel.closeWrite(d, chan, side) catch |err| return channelCode(err);
    return 0;
}

pub export fn xio_chan_close(d: *Domain, chan: u32, side: u32) i32 {
    d.assertValid();
    channel.close(d, chan, side) catch |err| return channelCode(err);
    return 0;
}

pub export fn xio_alloc(d: *Domain, size: u32) i32 {
    d.assertValid();
    const id = buffers.alloc(d, size) catch |err| return channelCode(err);
    return @intCast(id);
}

/// Allocates up to `count` buffers of `size` bytes; their ids go to `io[2..]`, one per pair.
pub export fn xio_alloc_many(d: *Domain, size: u32, count: u32) i32 {
    d.assertValid();
    if (count == 0 or count > domain_mod.batch_max) return code(.invalid);
    var done: u32 = 0;
    while (done < count) : (done += 1) {
        const id = buffers.alloc(d, size) catch |err| {
            if (done > 0) break;
            return channelCode(err);
        };
        d.io[2 + 2 * done] = id;
        d.io[3 + 2 * done] = size;
    }
    return @intCast(done);
}

pub export fn xio_release(d: *Domain, id: u32) i32 {
    d.assertValid();
    buffers.release(d, id) catch |err| return channelCode(err);
    return 0;
}

/// Releases the `count` buffer ids at `io[2]`, `io[4]`, ... Returns how many were ours.
pub export fn xio_release_many(d: *Domain, count: u32) i32 {
    d.assertValid();
    if (count > domain_mod.batch_max) return code(.invalid);
    var released: i32 = 0;
    for (0..count) |i| {
        buffers.release(d, d.io[2 + 2 * i]) catch continue;
        released += 1;
    }
    return released;
}

/// Copies `length` bytes of held buffer `id`, starting at `from`, to `target`. JS engines copy
/// between shared and heap memory at very different speeds (V8 slows down into large heap
/// buffers, JavaScriptCore at unaligned offsets); memcpy does not.
pub export fn xio_copy_out(d: *Domain, id: u32, from: u32, target: [*]u8, length: u32) i32 {
    d.assertValid();
    const bytes = buffers.heldBytes(d, id, from, length) orelse return code(.invalid);
    @memcpy(target[0..length], bytes);
    return 0;
}

/// Copies `length` bytes from `source` into held buffer `id`, starting at `at`.
pub export fn xio_copy_in(d: *Domain, id: u32, at: u32, source: [*]const u8, length: u32) i32 {
    d.assertValid();
    const bytes = buffers.heldBytes(d, id, at, length) orelse return code(.invalid);
    @memcpy(bytes, source[0..length]);
    return 0;
}

pub export fn xio_arm_alloc(d: *Domain, size: u32) i32 {
    d.assertValid();
    buffers.armAlloc(d, size) catch |err| return channelCode(err);
    return 0;
}

/// Moves pending events into the events array and returns how many; `io[1]` is 1 if a buffer
/// this node waited for was released.
pub export fn xio_take_events(d: *Domain) i32 {
    d.assertValid();
    return @intCast(d.takeEvents());
}

/// Marks this node parked (its event loop may sleep; notifiers ring its doorbell socket).
/// Returns 1 if news already waits, so that the caller drains instead of sleeping.
pub export fn xio_park(d: *Domain) i32 {
    d.assertValid();
    return @intFromBool(d.park());
}

/// Clears this node's parked flag while JS polls, so that notifiers make no system calls.
pub export fn xio_unpark(d: *Domain) void {
    d.assertValid();
    d.unpark();
}

/// 1 if this node has news (channel events or a released buffer it waited for), else 0.
pub export fn xio_has_events(d: *Domain) i32 {
    d.assertValid();
    return @intFromBool(d.hasEvents());
}

/// Writes the path of this node's doorbell socket to `out` (no terminating zero). Returns its
/// length, or `invalid` if `len` is too small.
pub export fn xio_bell_path(d: *Domain, out: [*]u8, len: u32) i32 {
    d.assertValid();
    var buffer: [domain_mod.path_bytes_max]u8 = undefined;
    const path = d.bellPath(&buffer, d.node, d.node_generation) orelse return code(.path_too_long);
    if (path.len > len) return code(.invalid);
    @memcpy(out[0..path.len], path);
    return @intCast(path.len);
}

/// CLOCK_MONOTONIC in nanoseconds (cheaper than Deno's `performance.now()`).
pub export fn xio_now_ns() f64 {
    return @floatFromInt(sys.nowNs());
}

/// Receives one message as `xio_recv` does; if none is ready, arms the receive ring and, with
/// `park` = 1, parks this node. Returns the buffer id (length in `io[0]`), or `would_block`
/// once waiting, with `io[1]` = 1 if news arrived meanwhile (drain the events), or a status.
pub export fn xio_recv_wait(d: *Domain, chan: u32, side: u32, park: u32) i32 {
    d.assertValid();
    const received = channel.recvWait(d, chan, side, park != 0) catch |err| return channelCode(err);
    switch (received) {
        .message => |pair| {
            d.io[0] = pair[1];
            return @intCast(pair[0]);
        },
        .waiting => |waiting| {
            d.io[1] = @intFromBool(waiting.news);
            return code(.would_block);
        },
    }
}

/// The byte offset of this node's slot in the mapping (see layout.zig, `Node`).
pub export fn xio_node_offset(d: *Domain) f64 {
    d.assertValid();
    return @floatFromInt(d.offsets.nodes_offset + @as(u64, d.node) * @sizeOf(layout.Node));
}

/// The byte offset of the header of ring `direction` of channel `chan` in the mapping.
pub export fn xio_ring_offset(d: *Domain, chan: u32, direction: u32) f64 {
    d.assertValid();
    if (chan >= d.config.channel_max or direction > 1) return @floatFromInt(code(.invalid));
    return @floatFromInt(d.offsets.rings_offset + @as(u64, chan) * d.offsets.ring_pair_bytes +
        direction * layout.ringBytes(d.config.ring_capacity));
}

/// Tells notifiers that this node now listens on its doorbell socket.
pub export fn xio_bell_ready(d: *Domain) void {
    d.assertValid();
    d.bellReady();
}

/// Gives the core to another runnable thread, if any (sched_yield). Busy-polling loops call it
/// between passes, so that polling costs little when processes outnumber cores.
pub export fn xio_yield() void {
    sys.yield();
}

/// Checks the other nodes' liveness now and reclaims the dead. Returns how many it reclaimed.
pub export fn xio_probe(d: *Domain) i32 {
    d.assertValid();
    return @intCast(d.probePeers());
}

pub export fn xio_debug_plant(d: *Domain, chan: u32, direction: u32, high: u32, low: u32) i32 {
    d.assertValid();
    channel.debugPlant(d, chan, direction, (@as(u64, high) << 32) | low) catch |err| return channelCode(err);
    return 0;
}

// The exports and the layout against abi.zig, at compile time: every function of the table is
// exported here with the parameters it declares, every export is in the table, and the constants
// the callers use describe this build.
comptime {
    @setEvalBranchQuota(100_000);
    const exports = @This();
    for (abi.functions) |function| {
        if (!@hasDecl(exports, function.name)) @compileError(function.name ++ " is in abi.zig but not exported");
        const info = @typeInfo(@TypeOf(@field(exports, function.name))).@"fn";
        if (info.param_types.len != function.params.len) @compileError(function.name ++ ": parameters differ from abi.zig");
        for (info.param_types, function.params) |actual, declared| {
            if (!matches(actual.?, declared.type, false)) {
                @compileError(function.name ++ ": parameter " ++ declared.name ++ " differs from abi.zig");
            }
        }
        if (!matches(info.return_type.?, function.result, true)) @compileError(function.name ++ ": result differs from abi.zig");
    }
    for (@typeInfo(exports).@"struct".decl_names) |name| {
        if (!std.mem.startsWith(u8, name, "xio_")) continue;
        for (abi.functions) |function| {
            if (std.mem.eql(u8, function.name, name)) break;
        } else @compileError(name ++ " is exported but not in abi.zig");
    }

    const Node = layout.Node;
    const RingHeader = layout.RingHeader;
    if (abi.Stat.words != abi.Stat.class + abi.Stat.class_stride * layout.class_count_max) @compileError("Stat.words");
    if (abi.Opt.class_counts - abi.Opt.class_sizes != layout.class_count_max) @compileError("Opt.class_sizes");
    if (abi.Opt.words != abi.Opt.owners + abi.Opt.owners_max) @compileError("Opt.words");
    if (abi.Opt.owners_max != domain_mod.Options.Trust.owners_max) @compileError("Opt.owners_max");
    if (abi.Const.batch_max != domain_mod.batch_max) @compileError("Const.batch_max");
    if (abi.Const.io_words != domain_mod.io_words) @compileError("Const.io_words");
    if (abi.Const.events_max != layout.channel_max_limit) @compileError("Const.events_max");
    if (abi.Const.name_bytes_max != layout.name_bytes_max) @compileError("Const.name_bytes_max");
    if (1 << abi.Const.buffer_class_shift != layout.buffer_count_max) @compileError("Const.buffer_class_shift");
    if (abi.Const.node_wake_offset != @offsetOf(Node, "parked")) @compileError("Const.node_wake_offset");
    if (abi.Const.ring_notified_at_offset != @offsetOf(RingHeader, "notified_at")) @compileError("Const.ring_notified_at_offset");
    if (abi.Const.ring_poll_mode_offset != @offsetOf(RingHeader, "poll_mode")) @compileError("Const.ring_poll_mode_offset");
    if (abi.Const.option_none != domain_mod.Options.Trust.no_owner) @compileError("Const.option_none");
}

/// Whether the Zig type of an export stands for the ABI type `declared`.
fn matches(comptime actual: type, comptime declared: abi.Type, comptime result: bool) bool {
    return switch (declared) {
        .u32 => actual == u32,
        .i32 => actual == i32,
        .f64 => actual == f64,
        .void => actual == void,
        .handle => actual == (if (result) ?*Domain else *Domain),
        .bytes, .pointer => @typeInfo(actual) == .pointer,
    };
}

test {
    _ = @import("abi.zig");
    _ = @import("layout.zig");
    _ = @import("ring.zig");
    _ = @import("pool.zig");
    _ = @import("tests.zig");
    _ = @import("events.zig");
    _ = @import("inspect.zig");
}
