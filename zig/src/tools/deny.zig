//! xio-deny: runs a program under a seccomp filter that fails one system call with an errno, as an
//! old kernel (ENOSYS) or a container runtime's seccomp profile (EPERM) would. The loader tests
//! use it to check the error a user gets in such a place.
//!
//!     xio-deny statx 38 deno run ...      (38 = ENOSYS, 1 = EPERM)

const std = @import("std");
const builtin = @import("builtin");
const linux = std.os.linux;

const Filter = extern struct { code: u16, jt: u8, jf: u8, k: u32 };
const Program = extern struct { len: u16, filter: [*]const Filter };

const load_word = 0x20; // BPF_LD | BPF_W | BPF_ABS
const jump_equal = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const ret = 0x06; // BPF_RET | BPF_K
const audit_arch: u32 = switch (builtin.cpu.arch) {
    .x86_64 => 0xc000003e,
    .aarch64 => 0xc00000b7,
    else => @compileError("xio-deny supports x86_64 and aarch64"),
};

extern "c" fn execvp(file: [*:0]const u8, argv: [*:null]const ?[*:0]const u8) c_int;

fn fail(comptime format: []const u8, args: anytype) noreturn {
    std.debug.print("xio-deny: " ++ format ++ "\n", args);
    std.process.exit(2);
}

pub fn main(init: std.process.Init.Minimal) !void {
    var argv: [64:null]?[*:0]const u8 = @splat(null);
    var count: usize = 0;
    var iterator = init.args.iterate();
    while (iterator.next()) |arg| : (count += 1) {
        if (count == argv.len) fail("too many arguments", .{});
        argv[count] = arg.ptr;
    }
    if (count < 4) fail("usage: xio-deny <system call> <errno> <program> [arguments...]", .{});
    const name = std.mem.span(argv[1].?);
    const call = std.meta.stringToEnum(linux.SYS, name) orelse fail("unknown system call {s}", .{name});
    const errno = std.fmt.parseInt(u16, std.mem.span(argv[2].?), 10) catch fail("bad errno", .{});

    const filter = [_]Filter{
        .{ .code = load_word, .jt = 0, .jf = 0, .k = 4 }, // seccomp_data.arch
        .{ .code = jump_equal, .jt = 0, .jf = 3, .k = audit_arch },
        .{ .code = load_word, .jt = 0, .jf = 0, .k = 0 }, // seccomp_data.nr
        .{ .code = jump_equal, .jt = 0, .jf = 1, .k = @intCast(@intFromEnum(call)) },
        .{ .code = ret, .jt = 0, .jf = 0, .k = linux.SECCOMP.RET.ERRNO | @as(u32, errno) },
        .{ .code = ret, .jt = 0, .jf = 0, .k = linux.SECCOMP.RET.ALLOW },
    };
    const program: Program = .{ .len = filter.len, .filter = &filter };
    if (linux.errno(linux.prctl(@intFromEnum(linux.PR.SET_NO_NEW_PRIVS), 1, 0, 0, 0)) != .SUCCESS)
        fail("prctl(PR_SET_NO_NEW_PRIVS) failed", .{});
    const rc = linux.seccomp(linux.SECCOMP.SET_MODE_FILTER, 0, &program);
    if (linux.errno(rc) != .SUCCESS) fail("seccomp failed: {s}", .{@tagName(linux.errno(rc))});

    _ = execvp(argv[3].?, @ptrCast(&argv[3]));
    fail("cannot run {s}", .{std.mem.span(argv[3].?)});
}
