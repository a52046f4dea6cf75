//! Generates zig/include/xio.h and ffi/_abi.ts from abi.zig, the one source of the ABI:
//!
//!     abi_gen write <xio.h> <_abi.ts>   write both files
//!     abi_gen check <xio.h> <_abi.ts>   fail (exit 1) if either differs from what it would write
//!
//! `zig build abi` writes them; `zig build test` checks them, so a stale copy fails the tests.

const std = @import("std");
const linux = std.os.linux;
const abi = @import("abi.zig");

const Writer = std.Io.Writer;

pub fn main(init: std.process.Init.Minimal) !void {
    var args = init.args.iterate();
    _ = args.next();
    const mode = args.next() orelse return usage();
    const header_path = args.next() orelse return usage();
    const table_path = args.next() orelse return usage();
    const write = std.mem.eql(u8, mode, "write");
    if (!write and !std.mem.eql(u8, mode, "check")) return usage();

    var header_buffer: [64 * 1024]u8 = undefined;
    var header: Writer = .fixed(&header_buffer);
    try writeHeader(&header);
    var table_buffer: [64 * 1024]u8 = undefined;
    var table: Writer = .fixed(&table_buffer);
    try writeTable(&table);

    var stale = false;
    for ([_]struct { path: []const u8, text: []const u8 }{
        .{ .path = header_path, .text = header.buffered() },
        .{ .path = table_path, .text = table.buffered() },
    }) |file| {
        if (write) {
            try writeFile(file.path, file.text);
        } else if (!try sameAs(file.path, file.text)) {
            say("stale: ");
            say(file.path);
            say(" differs from zig/src/abi.zig; run `zig build abi` (bash scripts/xio.sh zig build abi)\n");
            stale = true;
        }
    }
    if (stale) linux.exit(1);
}

fn usage() void {
    say("usage: abi_gen write|check <xio.h> <_abi.ts>\n");
    linux.exit(2);
}

fn say(text: []const u8) void {
    _ = linux.write(2, text.ptr, text.len);
}

fn pathZ(buffer: *[1024]u8, path: []const u8) [:0]const u8 {
    @memcpy(buffer[0..path.len], path);
    buffer[path.len] = 0;
    return buffer[0..path.len :0];
}

fn writeFile(path: []const u8, text: []const u8) !void {
    var buffer: [1024]u8 = undefined;
    const rc = linux.open(pathZ(&buffer, path), .{ .ACCMODE = .WRONLY, .CREAT = true, .TRUNC = true }, 0o644);
    if (linux.errno(rc) != .SUCCESS) return error.CannotWrite;
    const fd: i32 = @intCast(rc);
    defer _ = linux.close(fd);
    var done: usize = 0;
    while (done < text.len) {
        const n = linux.write(fd, text[done..].ptr, text.len - done);
        if (linux.errno(n) != .SUCCESS) return error.CannotWrite;
        done += n;
    }
}

fn sameAs(path: []const u8, text: []const u8) !bool {
    var buffer: [1024]u8 = undefined;
    const rc = linux.open(pathZ(&buffer, path), .{ .ACCMODE = .RDONLY }, 0);
    if (linux.errno(rc) != .SUCCESS) return false;
    const fd: i32 = @intCast(rc);
    defer _ = linux.close(fd);
    var content: [64 * 1024]u8 = undefined;
    var filled: usize = 0;
    while (filled < content.len) {
        const n = linux.read(fd, content[filled..].ptr, content.len - filled);
        if (linux.errno(n) != .SUCCESS) return error.CannotRead;
        if (n == 0) break;
        filled += n;
    }
    return std.mem.eql(u8, content[0..filled], text);
}

/// `snake_case` as `UPPER_CASE`.
fn upper(w: *Writer, name: []const u8) !void {
    for (name) |ch| try w.writeByte(std.ascii.toUpper(ch));
}

/// `snake_case` as `camelCase`.
fn camel(w: *Writer, name: []const u8) !void {
    var up = false;
    for (name) |ch| {
        if (ch == '_') {
            up = true;
            continue;
        }
        try w.writeByte(if (up) std.ascii.toUpper(ch) else ch);
        up = false;
    }
}

fn docOf(comptime docs: anytype, comptime name: []const u8) []const u8 {
    return if (@hasField(@TypeOf(docs), name)) @field(docs, name) else "";
}

fn writeHeader(w: *Writer) !void {
    try w.print(
        \\/* libxio: shared-memory channels for processes on one machine.
        \\ *
        \\ * GENERATED from zig/src/abi.zig by zig/src/abi_gen.zig (`zig build abi`): do not edit.
        \\ *
        \\ * Every function returns a status (negative, see XIO_E_*) or a non-negative result. A handle
        \\ * comes from xio_open and is freed by xio_close; everything else that crosses this ABI is
        \\ * checked, and nothing read from shared memory is trusted.
        \\ *
        \\ * Sides: 0 is the client (the connecting side), 1 the server (the accepting side).
        \\ * Buffer ids: (class << XIO_BUFFER_CLASS_SHIFT) | index.
        \\ */
        \\#ifndef XIO_H
        \\#define XIO_H
        \\
        \\#include <stdint.h>
        \\
        \\#ifdef __cplusplus
        \\extern "C" {{
        \\#endif
        \\
        \\#define XIO_ABI_VERSION {d}
        \\
        \\/* Status codes. */
        \\
    , .{abi.version});
    const status = @typeInfo(abi.Status).@"enum";
    inline for (status.field_names, status.field_values) |name, value| {
        try w.writeAll("#define XIO_");
        if (value != 0) try w.writeAll("E_");
        try upper(w, name);
        try w.print(" ({d}) /* {s} */\n", .{ value, docOf(abi.status_docs, name) });
    }
    try writeEnum(w, "Words of the `options` array of xio_open.", "XIO_OPT_", abi.Opt, abi.opt_docs);
    try writeEnum(w, "Slots of the array filled by xio_stats (doubles).", "XIO_STAT_", abi.Stat, abi.stat_docs);
    try writeEnum(w, "Words of the header of a snapshot (doubles), as xio_snapshot writes it.", "XIO_SNAP_", abi.Snap, abi.snap_docs);
    try writeEnum(w, "Words of a node record of a snapshot.", "XIO_SNAP_NODE_", abi.SnapNode, .{});
    try writeEnum(w, "Words of a service record of a snapshot.", "XIO_SNAP_SERVICE_", abi.SnapService, .{});
    try writeEnum(w, "Words of a channel record of a snapshot.", "XIO_SNAP_CHANNEL_", abi.SnapChannel, .{});
    try writeEnum(w, "Words of a buffer class record of a snapshot.", "XIO_SNAP_CLASS_", abi.SnapClass, .{});
    try writeEnum(w, "Poll modes, as a receiving end records it.", "XIO_POLL_", abi.PollMode, .{});
    try writeEnum(w, "What xio_gc did.", "XIO_GC_", abi.Gc, .{});
    try writeEnum(w, "Channel flag bits, as xio_flags returns them.", "XIO_FLAG_", abi.Flag, .{});
    try writeEnum(w, "Constants.", "XIO_", abi.Const, .{});
    try w.writeAll("\ntypedef struct xio_domain xio_domain;\n\n");
    inline for (abi.functions) |function| {
        try w.print("/* {s} */\n{s} {s}(", .{
            function.doc,
            function.c_result orelse comptime function.result.c(""),
            function.name,
        });
        if (function.params.len == 0) try w.writeAll("void");
        inline for (function.params, 0..) |param, i| {
            if (i > 0) try w.writeAll(", ");
            try w.print("{s} {s}", .{ param.c orelse comptime param.type.c(""), param.name });
        }
        try w.writeAll(");\n");
    }
    try w.writeAll(
        \\
        \\#ifdef __cplusplus
        \\}
        \\#endif
        \\
        \\#endif /* XIO_H */
        \\
    );
}

fn writeEnum(w: *Writer, comptime title: []const u8, comptime prefix: []const u8, comptime T: type, comptime docs: anytype) !void {
    try w.print("\n/* {s} */\nenum {{\n", .{title});
    inline for (@typeInfo(T).@"struct".decl_names) |name| {
        try w.print("  {s}", .{prefix});
        try upper(w, name);
        const doc = docOf(docs, name);
        try w.print(" = {d},", .{@field(T, name)});
        if (doc.len > 0) try w.print(" /* {s} */", .{doc});
        try w.writeAll("\n");
    }
    try w.writeAll("};\n");
}

fn writeTable(w: *Writer) !void {
    try w.print(
        \\// GENERATED from zig/src/abi.zig by zig/src/abi_gen.zig (`zig build abi`): do not edit.
        \\/**
        \\ * The ABI of libxio as data: the symbol table the loaders build their `dlopen` definitions
        \\ * from, the status codes, option words, stats slots, flags and constants.
        \\ *
        \\ * @module
        \\ */
        \\
        \\/** The version of this ABI; the loaders refuse a library of another. */
        \\export const ABI_VERSION = {d};
        \\
        \\/** Every exported function: its parameter types and result type (see symbols.ts). */
        \\export const symbols = {{
        \\
    , .{abi.version});
    inline for (abi.functions) |function| {
        try w.print("  /** {s}(", .{function.name});
        inline for (function.params, 0..) |param, i| {
            if (i > 0) try w.writeAll(", ");
            try w.writeAll(param.name);
        }
        try w.print("): {s} */\n  {s}: {{ parameters: [", .{ function.doc, function.name });
        inline for (function.params, 0..) |param, i| {
            if (i > 0) try w.writeAll(", ");
            try w.print("\"{s}\"", .{@tagName(param.type)});
        }
        try w.print("], result: \"{s}\" }},\n", .{@tagName(function.result)});
    }
    try w.writeAll("} as const;\n\n/** Status codes returned by the library (`XIO_E_*` in xio.h). */\nexport const Status = {\n");
    const status = @typeInfo(abi.Status).@"enum";
    inline for (status.field_names, status.field_values) |name, value| {
        const doc = docOf(abi.status_docs, name);
        try w.print("  /** {s} */\n  ", .{doc});
        try camel(w, name);
        try w.print(": {d},\n", .{value});
    }
    try w.writeAll("} as const;\n");
    try writeObject(w, "Words of the `xio_open` options array.", "Opt", abi.Opt, abi.opt_docs);
    try writeObject(w, "Slots of the `xio_stats` array.", "Stat", abi.Stat, abi.stat_docs);
    try writeObject(w, "Words of the header of an `xio_snapshot`.", "Snap", abi.Snap, abi.snap_docs);
    try writeObject(w, "Words of a node record of a snapshot.", "SnapNode", abi.SnapNode, .{});
    try writeObject(w, "Words of a service record of a snapshot.", "SnapService", abi.SnapService, .{});
    try writeObject(w, "Words of a channel record of a snapshot.", "SnapChannel", abi.SnapChannel, .{});
    try writeObject(w, "Words of a buffer class record of a snapshot.", "SnapClass", abi.SnapClass, .{});
    try writeObject(w, "Poll modes, as a receiving end records it.", "PollMode", abi.PollMode, .{});
    try writeObject(w, "What `xio_gc` did.", "Gc", abi.Gc, .{});
    try writeObject(w, "Channel flag bits returned by `xio_flags`.", "Flag", abi.Flag, .{});
    try writeObject(w, "Constants shared with the library.", "Const", abi.Const, .{});
}

fn writeObject(w: *Writer, comptime title: []const u8, comptime name: []const u8, comptime T: type, comptime docs: anytype) !void {
    try w.print("\n/** {s} */\nexport const {s} = {{\n", .{ title, name });
    inline for (@typeInfo(T).@"struct".decl_names) |decl| {
        const doc = docOf(docs, decl);
        if (doc.len > 0) try w.print("  /** {s} */\n", .{doc});
        try w.writeAll("  ");
        try camel(w, decl);
        try w.print(": {d},\n", .{@field(T, decl)});
    }
    try w.writeAll("} as const;\n");
}
