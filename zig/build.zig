//! Builds libxio (a shared library that links libc, so that it is safe to call from the threads
//! of JS runtimes) and runs the native tests.
//!
//!     zig build -Doptimize=ReleaseSafe          -> zig-out/lib/libxio.so
//!     zig build test -Dfuzz-ops=1000000 -Dfuzz-seed=0
//!     zig build abi                             -> include/xio.h and ../ffi/_abi.ts, from src/abi.zig
//!     zig build dist                            -> zig-out/dist/libxio-<target>.so, the libraries to ship
//!     zig build -Dtarget=aarch64-linux-musl -Dcpu=baseline -Dstrip=true   one such library by hand

const std = @import("std");

/// The targets the package ships a library for: the name it ships under, and the Zig target.
const dist_targets = [_]struct { name: []const u8, query: []const u8 }{
    .{ .name = "x86_64-linux-gnu", .query = "x86_64-linux-gnu.2.17" },
    .{ .name = "x86_64-linux-musl", .query = "x86_64-linux-musl" },
    .{ .name = "aarch64-linux-gnu", .query = "aarch64-linux-gnu.2.17" },
    .{ .name = "aarch64-linux-musl", .query = "aarch64-linux-musl" },
};

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    const options = b.addOptions();
    options.addOption(u64, "fuzz_ops", b.option(u64, "fuzz-ops", "Operations per fuzz test (default 1000000)") orelse 1_000_000);
    options.addOption(u64, "fuzz_seed", b.option(u64, "fuzz-seed", "Fuzz seed; 0 picks one from the clock") orelse 0);
    options.addOption(bool, "counters", b.option(bool, "counters", "Count messages and bytes per ring (default true)") orelse true);

    const strip = b.option(bool, "strip", "Leave the debug information out of the library (default: keep it)");
    const module = b.createModule(.{
        .root_source_file = b.path("src/lib.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .strip = strip,
    });
    module.addOptions("options", options);

    const lib = b.addLibrary(.{ .name = "xio", .linkage = .dynamic, .root_module = module });
    b.installArtifact(lib);
    b.getInstallStep().dependOn(&b.addInstallFile(b.path("include/xio.h"), "include/xio.h").step);

    // The libraries the package ships (`zig build dist`): ReleaseSafe for a baseline CPU, against
    // glibc 2.17 and musl, with their debug information (zig-out/dist/libxio-<target>.so).
    // scripts/dist.ts strips them (Zig's objcopy cannot strip ELF yet), checks their dependencies
    // and hashes, and stages them into native/; the unstripped file is the exact symbol file of
    // the one shipped.
    const dist_step = b.step("dist", "Build the libraries to ship, for every target, into zig-out/dist");
    for (dist_targets) |dist| {
        const query = std.Target.Query.parse(.{ .arch_os_abi = dist.query, .cpu_features = "baseline" }) catch unreachable;
        const dist_lib = b.addLibrary(.{ .name = "xio", .linkage = .dynamic, .root_module = b.createModule(.{
            .root_source_file = b.path("src/lib.zig"),
            .target = b.resolveTargetQuery(query),
            .optimize = .ReleaseSafe,
            .link_libc = true,
        }) });
        dist_lib.root_module.addOptions("options", options);
        const file = b.fmt("dist/libxio-{s}.so", .{dist.name});
        dist_step.dependOn(&b.addInstallFile(dist_lib.getEmittedBin(), file).step);
    }

    // The C header and the TypeScript table are generated from src/abi.zig and committed: `abi`
    // writes them, and `test` fails when either is stale.
    const abi_gen = b.addExecutable(.{ .name = "xio-abi-gen", .root_module = b.createModule(.{
        .root_source_file = b.path("src/abi_gen.zig"),
        .target = b.graph.host,
    }) });
    const generated = [_][]const u8{ "include/xio.h", "../ffi/_abi.ts" };
    const write_abi = b.addRunArtifact(abi_gen);
    write_abi.setCwd(b.path("."));
    write_abi.addArg("write");
    write_abi.addArgs(&generated);
    write_abi.has_side_effects = true;
    b.step("abi", "Write include/xio.h and ../ffi/_abi.ts from src/abi.zig").dependOn(&write_abi.step);
    const check_abi = b.addRunArtifact(abi_gen);
    check_abi.setCwd(b.path("."));
    check_abi.addArg("check");
    check_abi.addArgs(&generated);
    check_abi.has_side_effects = true;

    const tests = b.addTest(.{ .root_module = module });
    const run_tests = b.addRunArtifact(tests);
    const test_step = b.step("test", "Run the native unit, fuzz, stress and integration tests");
    test_step.dependOn(&run_tests.step);
    test_step.dependOn(&check_abi.step);

    const bench_module = b.createModule(.{
        .root_source_file = b.path("src/bench.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    bench_module.addOptions("options", options);
    const bench = b.addExecutable(.{ .name = "xio-bench", .root_module = bench_module });
    const run_bench = b.addRunArtifact(bench);
    const bench_step = b.step("bench", "Time the native operations without FFI");
    bench_step.dependOn(&run_bench.step);

    // xio-deny, for the loader tests: runs a program with one system call failing (seccomp).
    const deny = b.addExecutable(.{ .name = "xio-deny", .root_module = b.createModule(.{
        .root_source_file = b.path("src/tools/deny.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    }) });
    b.installArtifact(deny);

    // For the loader tests: a library of another ABI version.
    const other_abi = b.addLibrary(.{ .name = "xio-other-abi", .linkage = .dynamic, .root_module = b.createModule(.{
        .root_source_file = b.path("src/tools/other_abi.zig"),
        .target = target,
        .optimize = optimize,
    }) });
    b.getInstallStep().dependOn(&b.addInstallArtifact(other_abi, .{ .dest_dir = .{ .override = .{ .custom = "lib/testing" } } }).step);

    // For bench/counters.ts: the same library without the per-ring counters, to measure them.
    const uncounted_options = b.addOptions();
    uncounted_options.addOption(u64, "fuzz_ops", 0);
    uncounted_options.addOption(u64, "fuzz_seed", 0);
    uncounted_options.addOption(bool, "counters", false);
    const uncounted_module = b.createModule(.{
        .root_source_file = b.path("src/lib.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    uncounted_module.addOptions("options", uncounted_options);
    const uncounted = b.addLibrary(.{ .name = "xio-uncounted", .linkage = .dynamic, .root_module = uncounted_module });
    b.getInstallStep().dependOn(&b.addInstallArtifact(uncounted, .{ .dest_dir = .{ .override = .{ .custom = "lib/testing" } } }).step);
    // And the native operations timed with and without them (zig-out/bin/testing/xio-bench*).
    for ([_]struct { name: []const u8, options: *std.Build.Step.Options }{
        .{ .name = "xio-bench", .options = options },
        .{ .name = "xio-bench-uncounted", .options = uncounted_options },
    }) |variant| {
        const variant_module = b.createModule(.{
            .root_source_file = b.path("src/bench.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
        });
        variant_module.addOptions("options", variant.options);
        const exe = b.addExecutable(.{ .name = variant.name, .root_module = variant_module });
        b.getInstallStep().dependOn(&b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = .{ .custom = "bin/testing" } } }).step);
    }

    // The floor of a paced round trip, for bench/sporadic_main.ts: zig-out/bin/xio-floor.
    const floor_module = b.createModule(.{
        .root_source_file = b.path("src/floor.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    floor_module.addOptions("options", options);
    const floor = b.addExecutable(.{ .name = "xio-floor", .root_module = floor_module });
    const floor_step = b.step("floor", "Build xio-floor, the paced futex and UNIX-socket round trips");
    floor_step.dependOn(&b.addInstallArtifact(floor, .{}).step);
}
