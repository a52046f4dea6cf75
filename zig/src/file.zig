//! The domain file: where it lives (this user's private directory under a hugetlbfs mount,
//! /dev/shm or /tmp), creating it with its layout, validating and attaching an existing one,
//! sweeping the files of domains whose processes all died, and leaving.

const std = @import("std");
const assert = std.debug.assert;
const sys = @import("sys.zig");
const layout = @import("layout.zig");
const domain_mod = @import("domain.zig");
const nodes = @import("nodes.zig");
const events = @import("events.zig");
const Domain = domain_mod.Domain;
const Error = domain_mod.Error;
const Options = domain_mod.Options;
const path_bytes_max = domain_mod.path_bytes_max;

/// Names become file names, so they are kept to a safe alphabet: letters, digits, '-', '_', '.'
/// and ':' (no '/', no "..", no leading '.').
pub fn validName(name: []const u8) bool {
    if (name.len == 0 or name.len > layout.name_bytes_max) return false;
    if (name[0] == '.') return false;
    if (std.mem.indexOf(u8, name, "..") != null) return false;
    for (name) |ch| {
        const ok = std.ascii.isAlphanumeric(ch) or ch == '-' or ch == '_' or ch == '.' or ch == ':';
        if (!ok) return false;
    }
    return true;
}

fn domainPath(buffer: *[path_bytes_max]u8, dir: []const u8, name: []const u8) error{NameTooLong}![:0]const u8 {
    return std.mem.printSentinel(buffer, "{s}/xio-{s}", .{ dir, name }, 0) catch error.NameTooLong;
}

fn lockPath(buffer: *[path_bytes_max]u8, dir: []const u8, name: []const u8) error{NameTooLong}![:0]const u8 {
    return std.mem.printSentinel(buffer, "{s}/.xio-{s}.lock", .{ dir, name }, 0) catch error.NameTooLong;
}

/// Candidate directories in order of preference.
const Candidates = struct {
    dirs: [8][path_bytes_max]u8 = undefined,
    lens: [8]u32 = undefined,
    hugetlbfs: [8]bool = undefined,
    count: u32 = 0,
    /// The first directory that could not be used because someone else owns it (or it is not a
    /// directory), for the error.
    refused: ?Error = null,
    trust: Options.Trust = .{},

    fn add(c: *Candidates, dir: []const u8, hugetlbfs: bool) void {
        if (c.count == c.dirs.len or dir.len >= path_bytes_max - 80) return;
        @memcpy(c.dirs[c.count][0..dir.len], dir);
        c.lens[c.count] = @intCast(dir.len);
        c.hugetlbfs[c.count] = hugetlbfs;
        c.count += 1;
    }

    /// Adds this user's (or the trusted group's) directory under `base`, creating it if needed.
    fn addPrivate(c: *Candidates, base: []const u8, hugetlbfs: bool) void {
        if (c.count == c.dirs.len) return;
        const buffer = &c.dirs[c.count];
        const path = if (c.trust.group) |gid|
            std.mem.printSentinel(buffer, "{s}/xio-g{d}", .{ base, gid }, 0) catch return
        else
            std.mem.printSentinel(buffer, "{s}/xio-{d}", .{ base, sys.geteuid() }, 0) catch return;
        if (path.len >= path_bytes_max - 80) return;
        ensureDirectory(path, c.trust) catch |err| switch (err) {
            // Not ours to use (another user made it, or a file squats the name): an error,
            // unless a later store works and nobody squats there.
            error.ForeignOwner, error.NotRegular => {
                c.refused = c.refused orelse err;
                return;
            },
            // Read-only or full store, or no permission to create directories here: skip it.
            else => return,
        };
        c.lens[c.count] = @intCast(path.len);
        c.hugetlbfs[c.count] = hugetlbfs;
        c.count += 1;
    }

    fn get(c: *const Candidates, i: u32) []const u8 {
        return c.dirs[i][0..c.lens[i]];
    }

    fn visitMount(c: *Candidates, mount_point: []const u8) bool {
        c.addPrivate(mount_point, true);
        return false;
    }

    fn collect(options: Options) Error!Candidates {
        var c: Candidates = .{ .trust = options.trust };
        if (options.dir.len > 0) {
            c.add(options.dir, isHugetlbfsMount(options.dir));
            return c;
        }
        if (options.hugepages != .never) sys.forEachHugetlbfsMount(&c, visitMount);
        c.addPrivate("/dev/shm", false);
        c.addPrivate("/tmp", false);
        // A squatted directory is never passed over quietly: another process of this user that
        // found it free would use it, and the two would not meet.
        if (c.refused) |err| return err;
        if (c.count == 0) return error.PermissionDenied;
        return c;
    }

    /// Where the lock file lives: the same place whatever the backing, so creators serialize.
    fn lockDir(c: *const Candidates) []const u8 {
        var i: u32 = 0;
        while (i < c.count) : (i += 1) {
            if (!c.hugetlbfs[i]) return c.get(i);
        }
        return c.get(0);
    }
};

/// Creates `path` as this user's private directory (mode 0700), or the trusted group's (2770,
/// group-owned), or checks that the one already there is exactly that: a directory, not a
/// symlink, owned by this user (or of the group), and closed to everyone else.
fn ensureDirectory(path: [:0]const u8, trust: Options.Trust) Error!void {
    const mode: u32 = if (trust.group != null) 0o2770 else 0o700;
    sys.mkdir(path, mode) catch |err| switch (err) {
        error.AlreadyExists => {},
        else => return mapSys(err),
    };
    if (trust.group) |gid| {
        // A new directory takes our effective group: hand it to the trusted one.
        _ = std.os.linux.chown(path, std.math.maxInt(u32), gid);
    }
    const info = sys.lstat(path) catch |err| return mapSys(err);
    if (!info.isDirectory()) return error.NotRegular;
    if (trust.group) |gid| {
        if (info.gid != gid or info.mode & 0o007 != 0) return error.ForeignOwner;
        if (!trust.allows(info.uid, info.gid)) return error.ForeignOwner;
    } else {
        if (info.uid != sys.geteuid() or info.mode & 0o077 != 0) return error.ForeignOwner;
    }
}

fn isHugetlbfsMount(dir: []const u8) bool {
    const Finder = struct {
        target: []const u8,
        found: bool = false,
        fn visit(f: *@This(), mount_point: []const u8) bool {
            if (std.mem.eql(u8, std.mem.trimEnd(u8, f.target, "/"), mount_point)) f.found = true;
            return f.found;
        }
    };
    var finder: Finder = .{ .target = dir };
    sys.forEachHugetlbfsMount(&finder, Finder.visit);
    return finder.found;
}

/// Removes the files of domains whose every process died without leaving (no node's liveness
/// lock is held). Their last process could not unlink them, and a domain in /dev/shm is memory.
/// Each removal happens under that domain's own lock file, so it cannot race an opener.
fn sweepOrphans(candidates: *const Candidates, keep: []const u8) void {
    const Sweeper = struct {
        dir: []const u8,
        lock_dir: []const u8,
        keep: []const u8,
        trust: Options.Trust,
        fn visit(self: *@This(), entry: []const u8) bool {
            if (!std.mem.startsWith(u8, entry, "xio-")) return false;
            const name = entry[4..];
            if (std.mem.eql(u8, name, self.keep) or !validName(name)) return false;
            removeIfOrphan(self.dir, self.lock_dir, name, self.trust);
            return false;
        }
    };
    var path_buffer: [path_bytes_max]u8 = undefined;
    var i: u32 = 0;
    while (i < candidates.count) : (i += 1) {
        const dir = candidates.get(i);
        var sweeper: Sweeper = .{ .dir = dir, .lock_dir = candidates.lockDir(), .keep = keep, .trust = candidates.trust };
        sys.forEachEntry(dirZ(&path_buffer, dir), &sweeper, Sweeper.visit);
    }
}

fn removeIfOrphan(dir: []const u8, lock_dir: []const u8, name: []const u8, trust: Options.Trust) void {
    var lock_buffer: [path_bytes_max]u8 = undefined;
    const lock_path = lockPath(&lock_buffer, lock_dir, name) catch return;
    const lock_fd = sys.open(lock_path, false, 0) catch return; // no lock file: not ours to judge
    defer sys.close(lock_fd);
    if (!(sys.lockTry(lock_fd, 0) catch false)) return; // someone is opening or leaving it
    // Locked after the last leaver unlinked it: a new opener may hold the new lock file and be
    // creating the domain afresh, so this one no longer guards anything.
    const lock_info = sys.fstat(lock_fd) catch return;
    if (lock_info.links == 0) return;
    var path_buffer: [path_bytes_max]u8 = undefined;
    const path = domainPath(&path_buffer, dir, name) catch return;
    const fd = sys.open(path, false, 0) catch return;
    defer sys.close(fd);
    // Only files we would join are ours to remove.
    const info = sys.fstat(fd) catch return;
    if (!info.isRegular() or !trust.allows(info.uid, info.gid)) return;
    var header: layout.Header = undefined;
    readAll(fd, std.mem.asBytes(&header)) catch return;
    if (header.magic != layout.magic or header.version != layout.version) return;
    if (header.node_max == 0 or header.node_max > layout.node_max_limit) return;
    if (heldByAnyone(fd, header.node_max)) return;
    events.unlinkBells(lock_dir, name);
    sys.unlink(path);
    sys.unlink(lock_path);
}

/// Opens (creating if allowed) and joins the domain `name`. Everything runs under the domain's
/// lock file, which also covers the last leaver's check-and-unlink in `leave`, so nobody can
/// join a file that is about to disappear.
pub fn open(name: []const u8, options: Options) Error!*Domain {
    var detail: u32 = 0;
    return openDetailed(name, options, &detail);
}

/// `open`, and on failure why beyond the error in `detail`: the layout version found (for
/// `Version`) or the size of a truncated file (for `Truncated`), else 0.
pub fn openDetailed(name: []const u8, options: Options, detail: *u32) Error!*Domain {
    detail.* = 0;
    if (!validName(name)) return error.InvalidName;
    if (options.dir.len >= path_bytes_max - 80) return error.InvalidName;
    const candidates = try Candidates.collect(options);
    sweepOrphans(&candidates, name);

    var lock_buffer: [path_bytes_max]u8 = undefined;
    const lock_path = lockPath(&lock_buffer, candidates.lockDir(), name) catch return error.InvalidName;
    var bell_buffer: [path_bytes_max]u8 = undefined;
    if (events.bellPathIn(&bell_buffer, candidates.lockDir(), name, layout.node_max_limit - 1, events.generation_max) == null) {
        return error.PathTooLong;
    }
    const deadline = sys.nowNs() + options.lock_timeout_ns;
    var attempts: u32 = 0;
    while (attempts < 64) : (attempts += 1) {
        const lock_fd = try takeLockFile(lock_path, options.mode, options.trust, deadline) orelse continue;
        defer sys.close(lock_fd);

        const domain = openLocked(name, options, &candidates, detail) catch |err| {
            // Nothing was created: do not leave an orphan lock file behind. Unlinking it while we
            // hold it is safe, because openers re-check the link count after locking.
            if (!anyDomainFile(&candidates, name)) sys.unlink(lock_path);
            return err;
        };
        errdefer closeMapping(domain);
        @memcpy(domain.lock_path[0 .. lock_path.len + 1], lock_path.ptr[0 .. lock_path.len + 1]);
        domain.lock_path_len = @intCast(lock_path.len);
        setHandleOptions(domain, &candidates, options);
        try domain.lockControl();
        defer domain.unlockControl();
        try nodes.joinLocked(domain, options.runtime);
        return domain;
    }
    return error.Busy;
}

/// Whether any process holds the control lock or a node's liveness lock of the domain file open
/// as `fd`: a live process holds one for as long as it lives. The lock bytes are the same in every
/// layout version, so only `node_max` is needed.
fn heldByAnyone(fd: sys.Fd, node_max: u32) bool {
    if (sys.lockHeld(fd, domain_mod.control_lock_byte)) return true;
    var node: u32 = 0;
    while (node < node_max) : (node += 1) {
        if (sys.lockHeld(fd, domain_mod.nodeLockByte(node))) return true;
    }
    return false;
}

/// What a handle on an attached file needs of the open: where doorbells live, how long lock
/// waits last, whom it trusts.
fn setHandleOptions(domain: *Domain, candidates: *const Candidates, options: Options) void {
    const bell_dir = candidates.lockDir();
    @memcpy(domain.bell_dir[0..bell_dir.len], bell_dir);
    domain.bell_dir_len = @intCast(bell_dir.len);
    domain.lock_timeout_ns = options.lock_timeout_ns;
    domain.trust = options.trust;
}

/// Opens (or creates) the lock file and takes it, waiting until `deadline`. Null when the file
/// was unlinked while we waited: the last leaver unlinks it while holding it, so whoever waited
/// on that old file must start over on the new one.
fn takeLockFile(path: [:0]const u8, mode: u32, trust: Options.Trust, deadline: u64) Error!?sys.Fd {
    const fd = try openLockFile(path, mode, trust);
    errdefer sys.close(fd);
    const now = sys.nowNs();
    const locked = sys.lockWaitFor(fd, 0, if (deadline > now) deadline - now else 0) catch return error.Io;
    if (!locked) return error.LockTimeout;
    const info = sys.fstat(fd) catch return error.Io;
    if (info.links == 0) {
        sys.close(fd);
        return null;
    }
    return fd;
}

/// Opens the first domain file of `name` among the candidates: its descriptor and which
/// candidate holds it, or null if there is none.
fn openFirst(name: []const u8, candidates: *const Candidates) Error!?struct { fd: sys.Fd, index: u32 } {
    var path_buffer: [path_bytes_max]u8 = undefined;
    var i: u32 = 0;
    while (i < candidates.count) : (i += 1) {
        const path = domainPath(&path_buffer, candidates.get(i), name) catch return error.InvalidName;
        const fd = sys.open(path, false, 0) catch |err| switch (err) {
            error.NotFound => continue,
            else => return mapSys(err),
        };
        return .{ .fd = fd, .index = i };
    }
    return null;
}

fn anyDomainFile(candidates: *const Candidates, name: []const u8) bool {
    var path_buffer: [path_bytes_max]u8 = undefined;
    var i: u32 = 0;
    while (i < candidates.count) : (i += 1) {
        const path = domainPath(&path_buffer, candidates.get(i), name) catch continue;
        if (std.os.linux.errno(std.os.linux.access(path, 0)) == .SUCCESS) return true;
    }
    return false;
}

/// Creates the lock file, or opens the one there if it is a regular file of a trusted owner:
/// whoever owns it can hold it to keep everyone out, or delete it under a creator.
fn openLockFile(path: [:0]const u8, mode: u32, trust: Options.Trust) Error!sys.Fd {
    const fd = sys.open(path, true, mode) catch |err| switch (err) {
        error.AlreadyExists => {
            const existing = sys.open(path, false, 0) catch |e| return mapSys(e);
            errdefer sys.close(existing);
            const info = sys.fstat(existing) catch return error.Io;
            if (!info.isRegular()) return error.NotRegular;
            if (!trust.allows(info.uid, info.gid)) return error.ForeignOwner;
            return existing;
        },
        else => return mapSys(err),
    };
    sys.fchmod(fd, mode) catch {};
    return fd;
}

fn mapSys(err: sys.Error) Error {
    return switch (err) {
        error.NotFound => error.NotFound,
        error.NotRegular => error.NotRegular,
        error.PermissionDenied => error.PermissionDenied,
        error.NoSpace => error.NoSpace,
        else => error.Io,
    };
}

/// Runs with the creation lock held: attach to an existing domain file, or create one.
fn openLocked(name: []const u8, options: Options, candidates: *const Candidates, detail: *u32) Error!*Domain {
    if (try openFirst(name, candidates)) |found| {
        var path_buffer: [path_bytes_max]u8 = undefined;
        const path = domainPath(&path_buffer, candidates.get(found.index), name) catch unreachable; // it opened
        const fd = found.fd;
        const domain = attach(fd, options.trust, detail) catch |err| switch (err) {
            error.Busy => {
                // A creator died before publishing the header. We hold the creation lock, so
                // nobody else is creating it now: remove the remains and create afresh.
                sys.close(fd);
                sys.unlink(path);
                return create(name, options, candidates);
            },
            else => {
                sys.close(fd);
                return err;
            },
        };
        domain.setIdentity(candidates.get(found.index), name);
        return domain;
    }
    if (!options.create) return error.NotFound;
    return create(name, options, candidates);
}

fn attach(fd: sys.Fd, trust: Options.Trust, detail: *u32) Error!*Domain {
    const info = sys.fstat(fd) catch return error.Io;
    // Before anything is read or mapped: a device or a FIFO is no domain, and a file of a user
    // we do not trust is not ours to join (see `Options.Trust`).
    if (!info.isRegular()) return error.NotRegular;
    if (!trust.allows(info.uid, info.gid)) return error.ForeignOwner;
    const checked = try readLayout(fd, info, detail);
    const base = sys.mapShared(fd, checked.offsets.total_size) catch |err| return mapSys(err);
    const domain = newHandle(fd, base, checked.config, checked.offsets, checked.backing) catch {
        sys.unmap(base, checked.offsets.total_size);
        return error.NoSpace;
    };
    // Acquire pairs with the creator's release store of the magic: the layout it wrote is visible.
    assert(@atomicLoad(u64, &domain.header().magic, .acquire) == layout.magic);
    return domain;
}

/// What a validated header describes: the layout every later access is bounded by.
const Checked = struct { config: layout.Config, offsets: layout.Layout, backing: layout.Backing };

/// Reads the header of the domain file open as `fd` (of status `info`) and checks it describes a
/// layout this library knows and the file is long enough for. Busy if no header is published yet.
fn readLayout(fd: sys.Fd, info: sys.FileInfo, detail: *u32) Error!Checked {
    var header: layout.Header = std.mem.zeroes(layout.Header);
    const header_bytes: []u8 = std.mem.asBytes(&header);
    const readable: usize = @intCast(@min(info.size_bytes, header_bytes.len));
    readAll(fd, header_bytes[0..readable]) catch return error.Io;
    if (readable < 8 or header.magic == 0) return error.Busy;
    if (header.magic != layout.magic) return error.NotDomain;
    if (readable < 12) return error.Truncated;
    if (header.version != layout.version) {
        detail.* = header.version;
        return error.Version;
    }
    if (readable < header_bytes.len) return error.Truncated;

    var config: layout.Config = .{
        .node_max = header.node_max,
        .service_max = header.service_max,
        .channel_max = header.channel_max,
        .ring_capacity = header.ring_capacity,
        .class_count = header.class_count,
        .class_sizes = .{ 0, 0, 0, 0 },
        .class_counts = .{ 0, 0, 0, 0 },
    };
    for (0..layout.class_count_max) |c| {
        config.class_sizes[c] = header.classes[c].buffer_size;
        config.class_counts[c] = header.classes[c].buffer_count;
    }
    if (header.header_size != layout.header_bytes or !config.valid()) return error.Layout;
    const backing = std.enums.fromInt(layout.Backing, header.backing) orelse return error.Layout;
    const granule: u64 = if (backing == .hugetlbfs) sys.hugepage_size_bytes else layout.page_bytes;
    const offsets = layout.Layout.compute(config, granule);
    if (!layoutMatches(&header, offsets)) return error.Layout;
    if (header.total_size != offsets.total_size) return error.Layout;
    if (info.size_bytes < offsets.total_size) {
        detail.* = @intCast(@min(info.size_bytes, std.math.maxInt(u32)));
        return error.Truncated;
    }
    return .{ .config = config, .offsets = offsets, .backing = backing };
}

/// Opens the domain file at `path` read-only, to inspect it: no node slot is taken, no lock is
/// held, nothing is written, so traffic goes on undisturbed, and a domain whose creator is gone
/// reads as well as any. Any owner's file may be inspected: reading cannot hand it our data,
/// and everything read from it is bounded by the layout validated here. `detail` as in
/// `openDetailed`.
pub fn inspect(path: [:0]const u8, detail: *u32) Error!*Domain {
    detail.* = 0;
    const fd = sys.openReadOnly(path) catch |err| return mapSys(err);
    errdefer sys.close(fd);
    const info = sys.fstat(fd) catch return error.Io;
    if (!info.isRegular()) return error.NotRegular;
    const checked = try readLayout(fd, info, detail);
    const base = sys.mapReadOnly(fd, checked.offsets.total_size) catch |err| return mapSys(err);
    const domain = newHandle(fd, base, checked.config, checked.offsets, checked.backing) catch {
        sys.unmap(base, checked.offsets.total_size);
        return error.NoSpace;
    };
    domain.read_only = true;
    const slash = std.mem.lastIndexOfScalar(u8, path, '/');
    const dir = if (slash) |at| path[0..at] else ".";
    const file_name = if (slash) |at| path[at + 1 ..] else path;
    const name = if (std.mem.startsWith(u8, file_name, "xio-")) file_name[4..] else file_name;
    domain.setIdentity(dir[0..@min(dir.len, path_bytes_max - 1)], name[0..@min(name.len, layout.name_bytes_max)]);
    return domain;
}

/// Closes an inspector's handle (`inspect`).
pub fn closeInspector(domain: *Domain) void {
    assert(domain.read_only);
    closeMapping(domain);
}

pub const GcResult = struct { action: u32, count: u32 };

/// Collects the domain `name`, found where `openDetailed` would look for it: removes its files
/// if no live process holds it, or reclaims its dead nodes if some do. With `dry_run` it only
/// reports what it would do. It runs under the domain's lock file, as opens and leaves do, so it
/// cannot remove a domain that a process is joining, and running it twice is harmless.
pub fn gc(name: []const u8, options: Options, dry_run: bool) Error!GcResult {
    if (!validName(name)) return error.InvalidName;
    if (options.dir.len >= path_bytes_max - 80) return error.InvalidName;
    const candidates = try Candidates.collect(options);
    var lock_buffer: [path_bytes_max]u8 = undefined;
    const lock_path = lockPath(&lock_buffer, candidates.lockDir(), name) catch return error.InvalidName;
    const deadline = sys.nowNs() + options.lock_timeout_ns;
    var attempts: u32 = 0;
    while (attempts < 64) : (attempts += 1) {
        const existed = std.os.linux.errno(std.os.linux.access(lock_path, 0)) == .SUCCESS;
        const lock_fd = try takeLockFile(lock_path, 0o600, options.trust, deadline) orelse continue;
        defer sys.close(lock_fd);
        const result = gcLocked(name, options, &candidates, dry_run) catch |err| switch (err) {
            error.NotFound => {
                // A lock file with no domain: the remains of an open that failed or of a
                // process killed between the two unlinks of `leave`. One we made just now goes
                // whatever the mode.
                if (!existed or !dry_run) sys.unlink(lock_path);
                if (!existed) return error.NotFound;
                return .{ .action = @import("abi.zig").Gc.lock_removed, .count = 0 };
            },
            else => return err,
        };
        if (result.action == @import("abi.zig").Gc.removed and !dry_run) sys.unlink(lock_path);
        return result;
    }
    return error.Busy;
}

fn gcLocked(name: []const u8, options: Options, candidates: *const Candidates, dry_run: bool) Error!GcResult {
    const Gc = @import("abi.zig").Gc;
    if (try openFirst(name, candidates)) |found| {
        var path_buffer: [path_bytes_max]u8 = undefined;
        const path = domainPath(&path_buffer, candidates.get(found.index), name) catch unreachable; // it opened
        const fd = found.fd;
        var keep_fd = false;
        defer if (!keep_fd) sys.close(fd);
        const info = sys.fstat(fd) catch return error.Io;
        if (!info.isRegular()) return error.NotRegular;
        if (!options.trust.allows(info.uid, info.gid)) return error.ForeignOwner;
        var header: layout.Header = std.mem.zeroes(layout.Header);
        const readable: usize = @intCast(@min(info.size_bytes, @sizeOf(layout.Header)));
        readAll(fd, std.mem.asBytes(&header)[0..readable]) catch return error.Io;
        const published = readable >= 8 and header.magic != 0;
        if (published and header.magic != layout.magic) return error.NotDomain;
        const node_max = if (published) header.node_max else 0;
        if (node_max > layout.node_max_limit) return error.Layout;
        if (!heldByAnyone(fd, node_max)) {
            // No live process: an orphan (or a creator that died before publishing the header;
            // we hold the lock file, so nobody is creating it now).
            if (!dry_run) {
                events.unlinkBells(candidates.lockDir(), name);
                sys.unlink(path);
            }
            return .{ .action = Gc.removed, .count = 0 };
        }
        var detail: u32 = 0;
        const domain = try attach(fd, options.trust, &detail);
        keep_fd = true;
        defer closeMapping(domain);
        domain.setIdentity(candidates.get(found.index), name);
        setHandleOptions(domain, candidates, options);
        try domain.lockControl();
        defer domain.unlockControl();
        const dead = nodes.deadLocked(domain, !dry_run);
        return .{ .action = if (dead > 0) Gc.reclaimed else Gc.nothing, .count = dead };
    }
    return error.NotFound;
}

fn layoutMatches(header: *const layout.Header, offsets: layout.Layout) bool {
    if (header.nodes_offset != offsets.nodes_offset) return false;
    if (header.events_offset != offsets.events_offset) return false;
    if (header.services_offset != offsets.services_offset) return false;
    if (header.channels_offset != offsets.channels_offset) return false;
    if (header.rings_offset != offsets.rings_offset) return false;
    if (header.ring_pair_bytes != offsets.ring_pair_bytes) return false;
    if (header.event_words != header.channel_max / 64) return false;
    for (0..layout.class_count_max) |c| {
        if (header.classes[c].owners_offset != offsets.owners_offset[c]) return false;
        if (header.classes[c].data_offset != offsets.data_offset[c]) return false;
    }
    return true;
}

fn readAll(fd: sys.Fd, buffer: []u8) !void {
    var done: usize = 0;
    while (done < buffer.len) {
        const rc = std.os.linux.pread(fd, buffer[done..].ptr, buffer.len - done, @intCast(done));
        if (std.os.linux.errno(rc) != .SUCCESS) return error.Io;
        if (rc == 0) return error.Io;
        done += rc;
    }
}

fn create(name: []const u8, options: Options, candidates: *const Candidates) Error!*Domain {
    if (!options.config.valid()) return error.InvalidConfig;
    var path_buffer: [path_bytes_max]u8 = undefined;
    var i: u32 = 0;
    while (i < candidates.count) : (i += 1) {
        const hugetlbfs = candidates.hugetlbfs[i];
        if (options.hugepages == .require and !hugetlbfs) break;
        const granule: u64 = if (hugetlbfs) sys.hugepage_size_bytes else layout.page_bytes;
        const offsets = layout.Layout.compute(options.config, granule);
        if (hugetlbfs) {
            const pages = offsets.total_size / sys.hugepage_size_bytes;
            if (sys.hugepagesAvailable() < pages) {
                continue;
            }
        }
        const dir = candidates.get(i);
        if (!hugetlbfs and options.dir.len == 0 and !sys.writable(dirZ(&path_buffer, dir))) continue;
        const path = domainPath(&path_buffer, dir, name) catch return error.InvalidName;
        const domain = createAt(path, options, offsets, hugetlbfs) catch |err| switch (err) {
            // Not enough room or no permission here: fall back to the next store.
            error.NoSpace, error.PermissionDenied => {
                continue;
            },
            else => return err,
        };
        domain.setIdentity(dir, name);
        return domain;
    }
    if (options.hugepages == .require) return error.HugepagesUnavailable;
    return error.NoSpace;
}

fn dirZ(buffer: *[path_bytes_max]u8, dir: []const u8) [:0]const u8 {
    return std.mem.printSentinel(buffer, "{s}", .{dir}, 0) catch unreachable;
}

fn createAt(path: [:0]const u8, options: Options, offsets: layout.Layout, hugetlbfs: bool) Error!*Domain {
    const fd = sys.open(path, true, options.mode) catch |err| return mapSys(err);
    errdefer {
        sys.unlink(path);
        sys.close(fd);
    }
    sys.fchmod(fd, options.mode) catch |err| return mapSys(err);
    sys.ftruncate(fd, offsets.total_size) catch |err| return mapSys(err);
    // Reserve every page now: an exhausted /dev/shm or hugepage pool fails here, not as a SIGBUS
    // on some later first touch.
    sys.fallocate(fd, offsets.total_size) catch |err| switch (err) {
        error.InvalidArgument => {}, // file systems without fallocate: MAP_POPULATE still faults
        else => return mapSys(err),
    };
    const base = sys.mapShared(fd, offsets.total_size) catch |err| return mapSys(err);
    errdefer sys.unmap(base, offsets.total_size);

    var backing: layout.Backing = if (hugetlbfs) .hugetlbfs else .shm;
    if (!hugetlbfs) {
        const in_shm = std.mem.startsWith(u8, path, "/dev/shm/");
        const advised = sys.adviseHugepage(base, offsets.total_size);
        backing = if (!in_shm) .file else if (advised and sys.shmemThpAdvisable()) .shm_thp else .shm;
    }

    const header: *layout.Header = @ptrCast(base);
    const config = options.config;
    header.version = layout.version;
    header.header_size = layout.header_bytes;
    header.total_size = offsets.total_size;
    header.creator_pid = sys.getpid();
    header.backing = @backingInt(backing);
    header.node_max = config.node_max;
    header.service_max = config.service_max;
    header.channel_max = config.channel_max;
    header.ring_capacity = config.ring_capacity;
    header.class_count = config.class_count;
    header.event_words = config.channel_max / 64;
    header.nodes_offset = offsets.nodes_offset;
    header.events_offset = offsets.events_offset;
    header.services_offset = offsets.services_offset;
    header.channels_offset = offsets.channels_offset;
    header.rings_offset = offsets.rings_offset;
    header.ring_pair_bytes = offsets.ring_pair_bytes;
    for (0..layout.class_count_max) |c| {
        header.classes[c].buffer_size = if (c < config.class_count) config.class_sizes[c] else 0;
        header.classes[c].buffer_count = if (c < config.class_count) config.class_counts[c] else 0;
        header.classes[c].owners_offset = offsets.owners_offset[c];
        header.classes[c].data_offset = offsets.data_offset[c];
    }
    // A fresh file reads as zeroes, which is the initial state of every other structure.
    // Release: everything above is visible to whoever sees the magic (acquire in `attach`).
    @atomicStore(u64, &header.magic, layout.magic, .release);

    return newHandle(fd, base, config, offsets, backing) catch error.NoSpace;
}

/// The process-local handle on a mapped domain; joined to no node yet.
fn newHandle(
    fd: sys.Fd,
    base: [*]align(4096) u8,
    config: layout.Config,
    offsets: layout.Layout,
    backing: layout.Backing,
) error{OutOfMemory}!*Domain {
    const domain = try std.heap.c_allocator.create(Domain);
    domain.* = .{
        .fd = fd,
        .base = base,
        .size = offsets.total_size,
        .config = config,
        .offsets = offsets,
        .backing = backing,
        .node = 0,
        .node_generation = 0,
    };
    return domain;
}

fn closeMapping(domain: *Domain) void {
    for (0..domain.bells.len) |index| events.bellDrop(domain, @intCast(index));
    sys.unmap(domain.base, domain.size);
    sys.close(domain.fd);
    std.heap.c_allocator.destroy(domain);
}

/// Leaves the domain: closes this node's channels, unregisters its services, frees its buffers,
/// and removes the files if it was the last node. The handle is freed.
pub fn leave(domain: *Domain) void {
    const lock_path = domain.lock_path[0..domain.lock_path_len :0];
    var lock_fd: ?sys.Fd = openLockFile(lock_path, 0o600, domain.trust) catch null;
    if (lock_fd) |fd| {
        const locked = sys.lockWaitFor(fd, 0, domain.lock_timeout_ns) catch false;
        if (!locked) {
            sys.close(fd);
            lock_fd = null; // clean up all the same; only the removal of the files needs it
        }
    }
    domain.lockControl() catch {
        // Someone holds the control plane for too long: leave without cleaning up. Once the
        // mapping's descriptor closes, our liveness lock drops, and the next probe of any
        // survivor reclaims this node as it would a dead one.
        if (lock_fd) |fd| sys.close(fd);
        closeMapping(domain);
        return;
    };
    const node = domain.nodeAt(domain.node);
    nodes.removeNodeLocked(domain, domain.node, false);
    // Release: our clean-up is visible before the slot reads as free; the lock drops after.
    @atomicStore(u32, &node.status, layout.nodeStatus(.free, domain.node_generation +% 1), .release);
    sys.unlock(domain.fd, domain_mod.nodeLockByte(domain.node));
    const last = lock_fd != null and nodes.othersAliveLocked(domain) == 0;
    if (last) {
        var path_buffer: [path_bytes_max]u8 = undefined;
        sys.unlink(pathOf(domain, &path_buffer));
        sys.unlink(lock_path);
    }
    domain.unlockControl();
    if (lock_fd) |fd| sys.close(fd);
    closeMapping(domain);
}

fn pathOf(d: *const Domain, buffer: *[path_bytes_max]u8) [:0]const u8 {
    return domainPath(buffer, d.dir[0..d.dir_len], d.name[0..d.name_len]) catch unreachable;
}
