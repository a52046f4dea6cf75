//! One watcher thread per process. It parks on the doorbells of every domain this process has
//! joined (futex_waitv, with shared futexes) and calls one thread-safe JS callback per batch,
//! passing a bitmask of the domains that have events. It then waits until JS acknowledges, so
//! that a burst of messages costs one callback, not one per message. Every 100 ms it also checks
//! the liveness locks of the other nodes and reclaims the dead.
//!
//! The thread is started on first use and never joined: in Deno a thread-safe callback blocks its
//! caller until the JS thread runs it, so a JS thread that joined the watcher could deadlock. A
//! domain leaves the watched set with `unwatch`, which returns once the watcher has stopped
//! touching that domain's memory.

const std = @import("std");
const assert = std.debug.assert;
const linux = std.os.linux;
const sys = @import("sys.zig");
const layout = @import("layout.zig");
const Domain = @import("domain.zig").Domain;

pub const watched_max = 32;
pub const probe_interval_ns: u64 = 100 * std.time.ns_per_ms;
/// How long the watcher polls for JS's acknowledgement before it sleeps.
const ack_spin_ns: u64 = 1 * std.time.ns_per_ms;

pub const Callback = *const fn (mask: u32) callconv(.c) void;

const Phase = enum(u32) {
    /// Using its snapshot of the watched set: may touch those domains' memory.
    running = 0,
    /// Inside the JS callback or waiting for its acknowledgement: touches no domain.
    delivering = 1,
    /// Parked in the kernel: touches no domain until it wakes and re-checks the set.
    parked = 2,
};

const State = struct {
    /// Guards `domains`, `spin_ns` and `started`. Taken by the JS thread and the watcher.
    mutex: u32 = 0,
    domains: [watched_max]?*Domain = @splat(null),
    spin_ns: [watched_max]u64 = @splat(0),
    callback: ?Callback = null,
    started: bool = false,
    /// Bumped (under the mutex) whenever the set changes. Process-local futex for wake-ups too.
    set_generation: u32 = 0,
    /// The set generation of the watcher's current snapshot.
    seen_generation: u32 = 0,
    phase: u32 = @intFromEnum(Phase.running),
    /// 1 while JS has a batch to process; JS clears it in `ack`.
    busy: u32 = 0,
    /// Whether JS has a waiter that holds the process open. Without one the watcher calls no
    /// callback: the runtime may be exiting, and a call into a runtime that is tearing down
    /// crashes it. Events stay in the bitmaps and are taken by the next wait.
    wanted: u32 = 0,
};

var state: State = .{};

fn lock() void {
    while (@cmpxchgWeak(u32, &state.mutex, 0, 1, .acquire, .monotonic) != null) {
        sys.futexWait(&state.mutex, 1, std.time.ns_per_ms);
    }
}

fn unlock() void {
    // Release pairs with the acquire in `lock`.
    @atomicStore(u32, &state.mutex, 0, .release);
    sys.futexWake(&state.mutex, 1);
}

/// Adds a domain to the watched set. Returns its token (bit index in the callback's mask), or
/// null if the set is full.
pub fn watch(domain: *Domain, callback: Callback, spin_ns: u64) ?u32 {
    lock();
    defer unlock();
    if (state.callback == null) state.callback = callback;
    var token: ?u32 = null;
    for (&state.domains, 0..) |*slot, i| {
        if (slot.* == null) {
            slot.* = domain;
            state.spin_ns[i] = spin_ns;
            token = @intCast(i);
            break;
        }
    }
    if (token == null) return null;
    _ = bumpGeneration();
    if (!state.started) {
        if (!sys.pinLibrary(@ptrCast(&run))) {
            state.domains[token.?] = null;
            return null;
        }
        const thread = std.Thread.spawn(.{ .stack_size = 256 * 1024 }, run, .{}) catch {
            state.domains[token.?] = null;
            return null;
        };
        thread.detach();
        state.started = true;
    }
    return token;
}

/// Removes a domain from the watched set and returns once the watcher no longer touches it.
pub fn unwatch(domain: *Domain) void {
    lock();
    var found = false;
    for (&state.domains) |*slot| {
        if (slot.* == domain) {
            slot.* = null;
            found = true;
        }
    }
    const generation = bumpGeneration();
    unlock();
    if (!found) return;
    // seq_cst: pairs with the watcher's store of `phase` and load of `set_generation` in
    // `enterRunning`. Either it sees the new generation before touching a domain, or we see it
    // running on an old snapshot and wait for it to move on.
    while (true) {
        const phase = @atomicLoad(u32, &state.phase, .seq_cst);
        if (phase != @intFromEnum(Phase.running)) return;
        if (@atomicLoad(u32, &state.seen_generation, .seq_cst) -% generation < 0x8000_0000) return;
        _ = linux.sched_yield();
    }
}

fn bumpGeneration() u32 {
    const generation = @atomicRmw(u32, &state.set_generation, .Add, 1, .seq_cst) +% 1;
    sys.futexWakePrivate(&state.set_generation);
    return generation;
}

/// JS says whether it has waiters that want callbacks.
pub fn want(on: bool) void {
    const previous = @atomicRmw(u32, &state.wanted, .Xchg, @intFromBool(on), .seq_cst);
    // A watcher that parked while nobody wanted callbacks may have events waiting: wake it. Only
    // then: JS flips this around every wait, and a wake-up per message would cost a syscall.
    if (on and previous == 0 and @atomicLoad(u32, &state.phase, .seq_cst) == @intFromEnum(Phase.parked)) {
        _ = bumpGeneration();
    }
}

/// JS calls this when it has drained the batch the callback announced.
pub fn ack() void {
    // Release: what JS did is visible to the watcher before it resumes. Only a watcher that
    // announced it sleeps (2) needs the wake-up syscall.
    if (@atomicRmw(u32, &state.busy, .Xchg, 0, .acq_rel) == 2) sys.futexWakePrivate(&state.busy);
}

const Snapshot = struct {
    domains: [watched_max]?*Domain = @splat(null),
    spin_ns: u64 = 0,
    generation: u32 = 0,
};

/// Marks the watcher as running and makes sure its snapshot is current.
fn enterRunning(snapshot: *Snapshot) void {
    @atomicStore(u32, &state.phase, @intFromEnum(Phase.running), .seq_cst);
    const generation = @atomicLoad(u32, &state.set_generation, .seq_cst);
    if (generation == snapshot.generation) return;
    lock();
    snapshot.generation = @atomicLoad(u32, &state.set_generation, .seq_cst);
    snapshot.domains = state.domains;
    snapshot.spin_ns = 0;
    for (state.domains, state.spin_ns) |d, spin_ns| {
        if (d != null) snapshot.spin_ns = @max(snapshot.spin_ns, spin_ns);
    }
    unlock();
    @atomicStore(u32, &state.seen_generation, snapshot.generation, .seq_cst);
}

fn pendingMask(snapshot: *const Snapshot) u32 {
    var mask: u32 = 0;
    for (snapshot.domains, 0..) |maybe, i| {
        const d = maybe orelse continue;
        if (d.hasEvents()) mask |= @as(u32, 1) << @intCast(i);
    }
    return mask;
}

fn run() void {
    var snapshot: Snapshot = .{ .generation = std.math.maxInt(u32) };
    var next_probe = sys.nowNs() + probe_interval_ns;
    while (true) {
        enterRunning(&snapshot);
        const mask = pendingMask(&snapshot);
        if (mask != 0 and @atomicLoad(u32, &state.wanted, .seq_cst) != 0) {
            deliver(mask);
            continue;
        }
        if (spin(&snapshot)) continue;
        park(&snapshot, next_probe);
        enterRunning(&snapshot);
        for (snapshot.domains) |maybe| {
            const d = maybe orelse continue;
            @atomicStore(u32, &d.nodeAt(d.node).sleeping, 0, .seq_cst);
        }
        const now = sys.nowNs();
        if (now >= next_probe) {
            for (snapshot.domains) |maybe| {
                if (maybe) |d| _ = d.probePeers();
            }
            next_probe = now + probe_interval_ns;
        }
    }
}

/// Polls for a short while before parking: a reply that arrives within the spin costs no futex
/// wake-up on either side. Returns true if something arrived or the set changed.
fn spin(snapshot: *const Snapshot) bool {
    if (snapshot.spin_ns == 0) return false;
    const deadline = sys.nowNs() + snapshot.spin_ns;
    var i: u32 = 0;
    while (true) : (i += 1) {
        if (pendingMask(snapshot) != 0 and @atomicLoad(u32, &state.wanted, .seq_cst) != 0) return true;
        if (@atomicLoad(u32, &state.set_generation, .monotonic) != snapshot.generation) return true;
        // Yield rather than burn: on a machine with few cores the JS thread we are about to
        // wake may need this very core.
        sys.yield();
        if (i % 8 == 0 and sys.nowNs() >= deadline) return false;
    }
}

fn park(snapshot: *const Snapshot, next_probe: u64) void {
    var waiters: [watched_max + 1]linux.futex2_waitone = undefined;
    var count: u32 = 0;
    const generation = snapshot.generation;
    waiters[count] = .{
        .val = generation,
        .uaddr = @intFromPtr(&state.set_generation),
        .flags = .{ .size = .U32, .private = true },
    };
    count += 1;
    for (snapshot.domains) |maybe| {
        const d = maybe orelse continue;
        const node = d.nodeAt(d.node);
        const bell = @atomicLoad(u32, &node.bell, .seq_cst);
        // seq_cst: pairs with the notifier's seq_cst OR of the event bits and load of `sleeping`
        // in `Domain.notify`. We store `sleeping` and then check for events; it sets events and
        // then checks `sleeping`. One of us sees the other.
        @atomicStore(u32, &node.sleeping, 1, .seq_cst);
        // Not private: notifiers in other processes wake this word.
        waiters[count] = .{ .val = bell, .uaddr = @intFromPtr(&node.bell), .flags = .{ .size = .U32, .private = false } };
        count += 1;
    }
    // seq_cst on `wanted`: pairs with `want`, which stores it and then bumps the generation that
    // this wait also watches.
    const pending = pendingMask(snapshot) != 0;
    if (!pending or @atomicLoad(u32, &state.wanted, .seq_cst) == 0) {
        @atomicStore(u32, &state.phase, @intFromEnum(Phase.parked), .seq_cst);
        // Re-check after announcing `parked`: `want` stores `wanted` and then reads `phase`, so
        // either it sees us parked and wakes us, or we see its store here. (Only process-local
        // state is read from here on: a parked watcher touches no domain.)
        const wanted_now = @atomicLoad(u32, &state.wanted, .seq_cst) != 0;
        if (!(pending and wanted_now)) {
            const deadline = @max(next_probe, sys.nowNs() + 1000);
            sys.futexWaitMany(waiters[0..count], deadline);
        }
    }
    // The caller re-enters `running` (re-reading the set) before it clears `sleeping`.
}

fn deliver(mask: u32) void {
    assert(mask != 0);
    const callback = state.callback orelse return;
    @atomicStore(u32, &state.busy, 1, .seq_cst);
    @atomicStore(u32, &state.phase, @intFromEnum(Phase.delivering), .seq_cst);
    callback(mask);
    // Spin for the acknowledgement first: on a virtual machine, waking a thread that sleeps in
    // the kernel can cost tens of microseconds, and JS usually answers within a few.
    const deadline = sys.nowNs() + ack_spin_ns;
    var i: u32 = 0;
    while (@atomicLoad(u32, &state.busy, .acquire) != 0) : (i += 1) {
        sys.yield();
        if (i % 8 != 0 or sys.nowNs() < deadline) continue;
        // Announce that we sleep (2), so that `ack` knows to wake us.
        if (@cmpxchgStrong(u32, &state.busy, 1, 2, .acq_rel, .acquire) == null or
            @atomicLoad(u32, &state.busy, .acquire) == 2)
        {
            sys.futexWaitPrivate(&state.busy, 2, probe_interval_ns);
        }
    }
}
