//! Everything Linux-specific lives here: files, mappings, OFD locks, futexes, doorbell sockets,
//! clocks and the hugetlbfs probe. The rest of the core only calls these functions, so a port to another OS
//! replaces this one file.

const std = @import("std");
const linux = std.os.linux;
const assert = std.debug.assert;

pub const Fd = i32;

pub const Error = error{
    AlreadyExists,
    NotFound,
    PermissionDenied,
    NoSpace,
    WouldBlock,
    Interrupted,
    InvalidArgument,
    /// A symlink, a directory, a socket or a device where a regular file was expected.
    NotRegular,
    Unexpected,
};

fn check(rc: usize) Error!usize {
    return switch (linux.errno(rc)) {
        .SUCCESS => rc,
        .EXIST => error.AlreadyExists,
        // LOOP: a symlink (opened with NOFOLLOW); ISDIR: a directory; NXIO: a socket or a FIFO
        // with nobody at the other end.
        .LOOP, .ISDIR, .NXIO => error.NotRegular,
        .NOENT, .NOTDIR => error.NotFound,
        .ACCES, .PERM, .ROFS => error.PermissionDenied,
        .NOSPC, .NOMEM, .FBIG => error.NoSpace,
        .AGAIN => error.WouldBlock,
        .INTR => error.Interrupted,
        .INVAL => error.InvalidArgument,
        else => error.Unexpected,
    };
}

/// Opens `path` read-write. With `exclusive`, the file must not exist and is created with `mode`.
pub fn open(path: [*:0]const u8, exclusive: bool, mode: u32) Error!Fd {
    const flags: linux.O = .{
        .ACCMODE = .RDWR,
        .CREAT = exclusive,
        .EXCL = exclusive,
        .CLOEXEC = true,
        .NOFOLLOW = true,
        // A FIFO planted where a domain should be must not block the open.
        .NONBLOCK = true,
    };
    while (true) {
        const rc = check(linux.open(path, flags, mode)) catch |err| switch (err) {
            error.Interrupted => continue,
            else => return err,
        };
        return @intCast(rc);
    }
}

/// Opens `path` read-only, for inspection: no symlink followed, no FIFO blocking the open.
pub fn openReadOnly(path: [*:0]const u8) Error!Fd {
    const flags: linux.O = .{ .ACCMODE = .RDONLY, .CLOEXEC = true, .NOFOLLOW = true, .NONBLOCK = true };
    while (true) {
        const rc = check(linux.open(path, flags, 0)) catch |err| switch (err) {
            error.Interrupted => continue,
            else => return err,
        };
        return @intCast(rc);
    }
}

pub fn close(fd: Fd) void {
    assert(fd >= 0);
    _ = linux.close(fd);
}

pub fn unlink(path: [*:0]const u8) void {
    _ = linux.unlink(path);
}

/// Sets the file mode explicitly, so that the process umask cannot widen or narrow it.
pub fn fchmod(fd: Fd, mode: u32) Error!void {
    _ = try check(linux.fchmod(fd, mode));
}

pub fn ftruncate(fd: Fd, size_bytes: u64) Error!void {
    _ = try check(linux.ftruncate(fd, @intCast(size_bytes)));
}

/// Reserves the backing pages now, so that an exhausted store fails here instead of with SIGBUS.
pub fn fallocate(fd: Fd, size_bytes: u64) Error!void {
    while (true) {
        _ = check(linux.fallocate(fd, 0, 0, @intCast(size_bytes))) catch |err| switch (err) {
            error.Interrupted => continue,
            else => return err,
        };
        return;
    }
}

pub const FileInfo = struct {
    size_bytes: u64,
    links: u64,
    uid: u32,
    gid: u32,
    /// The file type and permission bits (`st_mode`).
    mode: u32,
    inode: u64,

    pub fn isRegular(info: FileInfo) bool {
        return info.mode & linux.S.IFMT == linux.S.IFREG;
    }

    pub fn isDirectory(info: FileInfo) bool {
        return info.mode & linux.S.IFMT == linux.S.IFDIR;
    }
};

const stat_mask: linux.STATX = .{ .TYPE = true, .MODE = true, .SIZE = true, .NLINK = true, .UID = true, .GID = true, .INO = true };

fn infoOf(stx: *const linux.Statx) FileInfo {
    return .{ .size_bytes = stx.size, .links = stx.nlink, .uid = stx.uid, .gid = stx.gid, .mode = stx.mode, .inode = stx.ino };
}

pub fn fstat(fd: Fd) Error!FileInfo {
    var stx: linux.Statx = undefined;
    const empty: [*:0]const u8 = "";
    _ = try check(linux.statx(fd, empty, linux.AT.EMPTY_PATH, stat_mask, &stx));
    return infoOf(&stx);
}

/// The status of `path` itself (a symlink is reported as one, not followed).
pub fn lstat(path: [*:0]const u8) Error!FileInfo {
    var stx: linux.Statx = undefined;
    _ = try check(linux.statx(linux.AT.FDCWD, path, linux.AT.SYMLINK_NOFOLLOW, stat_mask, &stx));
    return infoOf(&stx);
}

/// Creates directory `path` with `mode` (exactly: the umask does not narrow it). AlreadyExists if
/// something is there.
pub fn mkdir(path: [*:0]const u8, mode: u32) Error!void {
    _ = try check(linux.mkdir(path, mode));
    _ = check(linux.chmod(path, mode)) catch {};
}

pub fn geteuid() u32 {
    return linux.geteuid();
}

pub fn getegid() u32 {
    return linux.getegid();
}

/// Sleeps for about `duration_ns` (interrupted sleeps are not resumed: callers loop).
pub fn nap(duration_ns: u64) void {
    const ts: linux.timespec = .{
        .sec = @intCast(duration_ns / std.time.ns_per_s),
        .nsec = @intCast(duration_ns % std.time.ns_per_s),
    };
    _ = linux.nanosleep(&ts, null);
}

/// Maps the file open as `fd`, shared, through an open file description of its own where /proc
/// allows: locks belong to a description, and one that a mapping references lives until the
/// mapping goes. A killed process's mappings go when the last of its threads lets go of its
/// address space, which on a runtime with many threads can be milliseconds after its descriptors
/// (and its sockets) closed; a lock on `fd` alone then drops with them. The new description is
/// of the very file `fd` is (/proc/self/fd resolves the descriptor, not a path), so no rename or
/// replacement of the path can slip another file in.
pub fn mapShared(fd: Fd, size_bytes: u64) Error![*]align(4096) u8 {
    assert(size_bytes > 0);
    var path_buffer: [32]u8 = undefined;
    const own: ?Fd = if (std.fmt.bufPrintSentinel(&path_buffer, "/proc/self/fd/{d}", .{fd}, 0)) |path| blk: {
        const flags: linux.O = .{ .ACCMODE = .RDWR, .CLOEXEC = true, .NONBLOCK = true };
        const rc = check(linux.open(path, flags, 0)) catch break :blk null;
        break :blk @intCast(rc);
    } else |_| null;
    defer if (own) |other| close(other);
    const rc = try check(linux.mmap(
        null,
        @intCast(size_bytes),
        .{ .READ = true, .WRITE = true },
        .{ .TYPE = .SHARED, .POPULATE = true },
        own orelse fd,
        0,
    ));
    return @ptrFromInt(rc);
}

/// Maps the file open as `fd` read-only and shared, without populating it: an inspector reads
/// what it needs, touches nothing, and a write through the mapping would fault.
pub fn mapReadOnly(fd: Fd, size_bytes: u64) Error![*]align(4096) u8 {
    assert(size_bytes > 0);
    const rc = try check(linux.mmap(null, @intCast(size_bytes), .{ .READ = true }, .{ .TYPE = .SHARED }, fd, 0));
    return @ptrFromInt(rc);
}

pub fn unmap(base: [*]align(4096) u8, size_bytes: u64) void {
    _ = linux.munmap(base, @intCast(size_bytes));
}

/// Asks for transparent huge pages on a shared mapping. Returns false when the kernel refuses.
pub fn adviseHugepage(base: [*]align(4096) u8, size_bytes: u64) bool {
    return linux.errno(linux.madvise(base, @intCast(size_bytes), linux.MADV.HUGEPAGE)) == .SUCCESS;
}

// Open file description locks belong to the open file, not to the process, so two opens in one
// process exclude each other, and the kernel drops them when the last descriptor closes: on a
// clean exit and on SIGKILL alike. We use one byte per lock.

fn ofd(fd: Fd, cmd: i32, kind: i16, byte: u64) Error!linux.Flock {
    var lock = std.mem.zeroes(linux.Flock);
    lock.type = kind;
    lock.whence = 0; // SEEK_SET
    lock.start = @intCast(byte);
    lock.len = 1;
    _ = try check(linux.fcntl(fd, cmd, @intFromPtr(&lock)));
    return lock;
}

/// Takes the write lock on `byte` without waiting. Returns false if another open file holds it.
pub fn lockTry(fd: Fd, byte: u64) Error!bool {
    _ = ofd(fd, linux.F.OFD_SETLK, linux.F.WRLCK, byte) catch |err| switch (err) {
        error.WouldBlock, error.PermissionDenied => return false,
        else => return err,
    };
    return true;
}

/// Takes the write lock on `byte`, waiting at most `timeout_ns` for its holder to release it or to
/// die. Returns false on timeout. (Polled, not F_OFD_SETLKW: a blocked lock wait cannot be
/// bounded, and a holder that never lets go must not freeze its waiters' event loops.)
pub fn lockWaitFor(fd: Fd, byte: u64, timeout_ns: u64) Error!bool {
    if (try lockTry(fd, byte)) return true;
    const deadline = nowNs() + timeout_ns;
    var pause_ns: u64 = 20 * std.time.ns_per_us;
    while (nowNs() < deadline) {
        nap(pause_ns);
        if (try lockTry(fd, byte)) return true;
        pause_ns = @min(pause_ns * 2, std.time.ns_per_ms);
    }
    return false;
}

pub fn unlock(fd: Fd, byte: u64) void {
    _ = ofd(fd, linux.F.OFD_SETLK, linux.F.UNLCK, byte) catch {};
}

/// True if some other open file description holds a lock on `byte`.
pub fn lockHeld(fd: Fd, byte: u64) bool {
    const lock = ofd(fd, linux.F.OFD_GETLK, linux.F.WRLCK, byte) catch return true;
    return lock.type != linux.F.UNLCK;
}

/// The system calls the core needs that an old kernel or a container's seccomp filter may lack,
/// numbered as `xio_kernel_check` reports them.
pub const KernelCall = enum(u32) {
    /// statx: Linux 4.11, and refused by the seccomp profiles of old container runtimes.
    statx = 1,
    /// fcntl with F_OFD_GETLK/F_OFD_SETLK (liveness locks): Linux 3.15.
    ofd_lock = 2,
    /// futex, shared (not FUTEX_PRIVATE_FLAG): the wake-ups.
    futex = 3,
};

/// A system call that failed `kernelCheck`, with its errno (ENOSYS: the kernel lacks it; EPERM
/// or EACCES: a seccomp filter refused it).
pub const KernelGap = struct { call: KernelCall, errno: u32 };

/// Tries once, harmlessly, each system call of `KernelCall`: null if every one works, otherwise
/// the first that failed. Without this, a missing call would surface later as an I/O error, or
/// as a panic in a futex wait.
pub fn kernelCheck() ?KernelGap {
    var stx: linux.Statx = undefined;
    const root: [*:0]const u8 = "/";
    const stat_errno = linux.errno(linux.statx(linux.AT.FDCWD, root, 0, stat_mask, &stx));
    if (stat_errno != .SUCCESS) return .{ .call = .statx, .errno = @intFromEnum(stat_errno) };

    const opened = linux.open(root, .{ .ACCMODE = .RDONLY, .DIRECTORY = true, .CLOEXEC = true }, 0);
    if (linux.errno(opened) == .SUCCESS) {
        const fd: Fd = @intCast(opened);
        defer _ = linux.close(fd);
        var lock = std.mem.zeroes(linux.Flock);
        lock.type = linux.F.RDLCK;
        lock.len = 1;
        const lock_errno = linux.errno(linux.fcntl(fd, linux.F.OFD_GETLK, @intFromPtr(&lock)));
        if (lock_errno != .SUCCESS) return .{ .call = .ofd_lock, .errno = @intFromEnum(lock_errno) };
    }

    var word: u32 = 0;
    const wake_errno = linux.errno(linux.futex_3arg(&word, .{ .cmd = .WAKE, .private = false }, 1));
    if (wake_errno != .SUCCESS) return .{ .call = .futex, .errno = @intFromEnum(wake_errno) };
    return null;
}

test "kernelCheck: this kernel has every call the core needs" {
    try std.testing.expectEqual(@as(?KernelGap, null), kernelCheck());
}

// Futexes. Every futex word lives in memory that several processes map, so none of these calls
// may set FUTEX_PRIVATE_FLAG (std.Thread.Futex does, which is why it is not used here).

/// How a futex wait ended. Every one means "look at the word again"; they differ for counting.
pub const FutexWaited = enum { woken, changed, timed_out, interrupted };

/// Sleeps while `word.* == expected`, for at most `timeout_ns`. Spurious returns are allowed.
pub fn futexWait(word: *const u32, expected: u32, timeout_ns: u64) FutexWaited {
    const ts: linux.timespec = .{
        .sec = @intCast(timeout_ns / std.time.ns_per_s),
        .nsec = @intCast(timeout_ns % std.time.ns_per_s),
    };
    const rc = linux.futex_4arg(word, .{ .cmd = .WAIT, .private = false }, expected, &ts);
    return switch (linux.errno(rc)) {
        .SUCCESS => .woken,
        .AGAIN => .changed, // the word was no longer `expected`
        .TIMEDOUT => .timed_out,
        .INTR => .interrupted,
        // EFAULT (not mapped), EINVAL (misaligned word or bad timeout), ENOSYS: our bug.
        else => |e| std.debug.panic("xio: futex wait failed: {s}", .{@tagName(e)}),
    };
}

/// Wakes at most `waiters_max` waiters on `word`; returns how many were woken.
pub fn futexWake(word: *const u32, waiters_max: u32) u32 {
    const rc = linux.futex_3arg(word, .{ .cmd = .WAKE, .private = false }, waiters_max);
    return switch (linux.errno(rc)) {
        .SUCCESS => @intCast(rc),
        // EFAULT or EINVAL: the word is not mapped or not aligned, which is our bug.
        else => |e| std.debug.panic("xio: futex wake failed: {s}", .{@tagName(e)}),
    };
}

/// CLOCK_MONOTONIC in nanoseconds. Through libc, whose clock_gettime uses the vDSO: Zig's own
/// finds no vDSO in a library loaded by a non-Zig program and makes a system call each time.
pub fn nowNs() u64 {
    var ts: std.c.timespec = undefined;
    _ = std.c.clock_gettime(.MONOTONIC, &ts);
    return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
}

/// CLOCK_REALTIME in milliseconds: wall-clock times shown to people (a node's start).
pub fn realtimeMs() u64 {
    var ts: std.c.timespec = undefined;
    _ = std.c.clock_gettime(.REALTIME, &ts);
    return @as(u64, @intCast(ts.sec)) * std.time.ms_per_s + @as(u64, @intCast(ts.nsec)) / std.time.ns_per_ms;
}

pub fn getpid() u32 {
    return @intCast(linux.getpid());
}

/// Gives the core to another runnable thread, if any, and returns at once otherwise.
pub fn yield() void {
    _ = linux.sched_yield();
}

pub fn writable(path: [*:0]const u8) bool {
    return linux.errno(linux.access(path, 2 | 1)) == .SUCCESS; // W_OK | X_OK on a directory
}

/// Reads a whole small file (such as /proc/mounts) into `buffer`; returns the bytes read.
pub fn readSmallFile(path: [*:0]const u8, buffer: []u8) []const u8 {
    const fd_rc = linux.open(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0);
    if (linux.errno(fd_rc) != .SUCCESS) return buffer[0..0];
    const fd: Fd = @intCast(fd_rc);
    defer close(fd);
    var filled: usize = 0;
    while (filled < buffer.len) {
        const rc = linux.read(fd, buffer[filled..].ptr, buffer.len - filled);
        if (linux.errno(rc) != .SUCCESS or rc == 0) break;
        filled += rc;
    }
    return buffer[0..filled];
}

pub const hugepage_size_bytes: u64 = 2 * 1024 * 1024;

/// Huge pages of the default size that are free and not yet promised to another mapping.
pub fn hugepagesAvailable() u64 {
    var buffer: [4096]u8 = undefined;
    const text = readSmallFile("/proc/meminfo", &buffer);
    const free = meminfoField(text, "HugePages_Free:") orelse return 0;
    const reserved = meminfoField(text, "HugePages_Rsvd:") orelse 0;
    const size_kib = meminfoField(text, "Hugepagesize:") orelse return 0;
    if (size_kib * 1024 != hugepage_size_bytes) return 0;
    return if (free > reserved) free - reserved else 0;
}

fn meminfoField(text: []const u8, key: []const u8) ?u64 {
    const at = std.mem.indexOf(u8, text, key) orelse return null;
    var rest = text[at + key.len ..];
    while (rest.len > 0 and rest[0] == ' ') rest = rest[1..];
    var end: usize = 0;
    while (end < rest.len and rest[end] >= '0' and rest[end] <= '9') end += 1;
    return std.fmt.parseInt(u64, rest[0..end], 10) catch null;
}

/// Calls `visit(path)` for each hugetlbfs mount point in /proc/mounts, in mount order.
pub fn forEachHugetlbfsMount(context: anytype, comptime visit: fn (@TypeOf(context), []const u8) bool) void {
    var buffer: [16384]u8 = undefined;
    const text = readSmallFile("/proc/mounts", &buffer);
    var lines = std.mem.splitScalar(u8, text, '\n');
    while (lines.next()) |line| {
        var fields = std.mem.splitScalar(u8, line, ' ');
        _ = fields.next() orelse continue;
        const mount_point = fields.next() orelse continue;
        const fs_type = fields.next() orelse continue;
        if (!std.mem.eql(u8, fs_type, "hugetlbfs")) continue;
        if (std.mem.indexOfScalar(u8, mount_point, '\\') != null) continue; // escaped names: skip
        if (visit(context, mount_point)) return;
    }
}

/// True when /sys says shared memory may use transparent huge pages after MADV_HUGEPAGE.
pub fn shmemThpAdvisable() bool {
    var buffer: [256]u8 = undefined;
    const text = readSmallFile("/sys/kernel/mm/transparent_hugepage/shmem_enabled", &buffer);
    return std.mem.indexOf(u8, text, "[always]") != null or
        std.mem.indexOf(u8, text, "[advise]") != null or
        std.mem.indexOf(u8, text, "[within_size]") != null;
}

/// Calls `visit(name)` for each entry of directory `path` (no "." or ".."), until it returns true.
pub fn forEachEntry(path: [*:0]const u8, context: anytype, comptime visit: fn (@TypeOf(context), []const u8) bool) void {
    const rc = linux.open(path, .{ .ACCMODE = .RDONLY, .DIRECTORY = true, .CLOEXEC = true }, 0);
    if (linux.errno(rc) != .SUCCESS) return;
    const fd: Fd = @intCast(rc);
    defer close(fd);
    var buffer: [8192]u8 align(8) = undefined;
    while (true) {
        const n = linux.getdents64(fd, &buffer, buffer.len);
        if (linux.errno(n) != .SUCCESS or n == 0) return;
        var at: usize = 0;
        while (at < n) {
            const entry: *align(1) const linux.dirent64 = @ptrCast(&buffer[at]);
            const name_ptr: [*:0]const u8 = @ptrCast(&buffer[at + @offsetOf(linux.dirent64, "name")]);
            const name = std.mem.span(name_ptr);
            at += entry.reclen;
            if (std.mem.eql(u8, name, ".") or std.mem.eql(u8, name, "..")) continue;
            if (visit(context, name)) return;
        }
    }
}

// Doorbell sockets. Each node's runtime listens on a UNIX stream socket with its own event loop
// (Deno.listen, Bun.listen); a notifier writes one byte to it, which wakes that event loop
// directly: one thread woken, as for any socket. These are the notifier's side.

/// The longest path a `sockaddr_un` holds, without its terminating zero.
pub const unix_path_bytes_max = 107;

/// Connects a non-blocking, close-on-exec stream socket to the UNIX socket at `path`. Null when
/// nobody listens there, or its backlog is full (the caller tries again at its next ring).
pub fn unixConnect(path: []const u8) ?Fd {
    assert(path.len > 0);
    if (path.len > unix_path_bytes_max) return null;
    var address: linux.sockaddr.un = .{ .path = @splat(0) };
    @memcpy(address.path[0..path.len], path);
    const rc = linux.socket(linux.AF.UNIX, linux.SOCK.STREAM | linux.SOCK.NONBLOCK | linux.SOCK.CLOEXEC, 0);
    if (linux.errno(rc) != .SUCCESS) return null;
    const fd: Fd = @intCast(rc);
    const length: linux.socklen_t = @intCast(@offsetOf(linux.sockaddr.un, "path") + path.len + 1);
    while (true) {
        switch (linux.errno(linux.connect(fd, &address, length))) {
            .SUCCESS => return fd,
            .INTR => continue,
            // AGAIN: the listener's backlog is full. NOENT, CONNREFUSED: nobody listens (the node
            // has not bound its doorbell yet, or it is gone). ACCES: not ours to ring. Any other
            // errno is equally a doorbell we cannot use now; the caller copes with a silent bell.
            else => {
                close(fd);
                return null;
            },
        }
    }
}

pub const SendResult = enum {
    /// The byte is in the socket (or the socket already holds unread bytes: the peer will wake).
    sent,
    /// The connection is gone: the peer closed it or died.
    broken,
};

/// Writes one byte to a connected doorbell socket without waiting and without SIGPIPE.
pub fn sendByte(fd: Fd) SendResult {
    assert(fd >= 0);
    const byte = [1]u8{'!'};
    while (true) {
        const rc = linux.sendto(fd, &byte, 1, linux.MSG.DONTWAIT | linux.MSG.NOSIGNAL, null, 0);
        switch (linux.errno(rc)) {
            .SUCCESS => return .sent,
            .INTR => continue,
            // The socket buffer is full of bytes the peer has not read: it has a wake-up pending.
            .AGAIN => return .sent,
            // PIPE, CONNRESET, NOTCONN, BADF: the peer's end is closed.
            else => return .broken,
        }
    }
}
