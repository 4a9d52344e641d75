//! Builds every O module as `zig-out/lib/libo_<module>.so` and runs the Zig unit tests (`zig build test`).
//! Run it through `deno task zig:build` (zig/build.ts), which pins the toolchain and caches by source hash.

const std = @import("std");

const Module = struct {
    name: []const u8,
    source: []const u8,
    system_libs: []const []const u8 = &.{},
    include_dirs: []const []const u8 = &.{},
    counter_version: []const u8 = "1.0.0",
    counter_broken: bool = false,
};

/// Every shipped and test module. The counters are test fixtures for hot reload (two versions and a
/// library whose o_init always fails).
const modules = [_]Module{
    .{ .name = "o_http_client", .source = "src/http_client.zig" },
    .{ .name = "o_sqlite", .source = "src/sqlite.zig", .system_libs = &.{"sqlite3"} },
    .{ .name = "o_postgres", .source = "src/postgres.zig", .system_libs = &.{"pq"}, .include_dirs = &.{"/usr/include/postgresql"} },
    .{ .name = "o_counter", .source = "src/counter.zig" },
    .{ .name = "o_counter_v2", .source = "src/counter.zig", .counter_version = "2.0.0" },
    .{ .name = "o_counter_broken", .source = "src/counter.zig", .counter_version = "9.9.9", .counter_broken = true },
};

/// Sources whose tests `zig build test` runs (each pulls in what it imports).
const test_sources = [_]Module{
    .{ .name = "o", .source = "src/o.zig" },
    .{ .name = "counter", .source = "src/counter.zig" },
    .{ .name = "http_client", .source = "src/http_client.zig" },
    .{ .name = "sqlite", .source = "src/sqlite.zig", .system_libs = &.{"sqlite3"} },
    .{ .name = "postgres", .source = "src/postgres.zig", .system_libs = &.{"pq"}, .include_dirs = &.{"/usr/include/postgresql"} },
};

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const only = b.option([]const u8, "module", "Build only this module (e.g. o_sqlite)");

    for (modules) |module| {
        if (only) |name| if (!std.mem.eql(u8, name, module.name)) continue;
        const lib = b.addSharedLibrary(.{
            .name = module.name,
            .root_source_file = .{ .path = module.source },
            .target = target,
            .optimize = optimize,
        });
        configure(b, lib, module);
        b.installArtifact(lib);
    }

    const test_step = b.step("test", "Run the Zig unit tests of every module");
    for (test_sources) |module| {
        const unit = b.addTest(.{
            .root_source_file = .{ .path = module.source },
            .target = target,
            .optimize = .Debug,
        });
        configure(b, unit, module);
        test_step.dependOn(&b.addRunArtifact(unit).step);
    }
}

fn configure(b: *std.Build, step: *std.Build.Step.Compile, module: Module) void {
    step.linkLibC();
    for (module.include_dirs) |dir| step.addIncludePath(.{ .path = dir });
    for (module.system_libs) |name| step.linkSystemLibrary(name);
    const options = b.addOptions();
    options.addOption([]const u8, "counter_version", module.counter_version);
    options.addOption(bool, "counter_broken", module.counter_broken);
    step.addOptions("build_options", options);
}
