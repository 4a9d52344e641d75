//! The C ABI every O module exports (CONTRACT.md, "Zig modules"), written once here.
//!
//! A module is a Zig file that declares
//!
//!     pub const version: [:0]const u8 = "1.0.0";
//!     pub const flags: u32 = 0;                 // o.flag_blocking if a call may wait on the network
//!     pub fn init(call: *o.Call, config: o.Value) anyerror!void
//!     pub fn shutdown() void
//!     pub fn handle(call: *o.Call, request: o.Value, out: *o.Writer) anyerror!void
//!     pub fn stateSave(call: *o.Call, out: *o.Writer) anyerror!void
//!     pub fn stateLoad(call: *o.Call, state: o.Value) anyerror!void
//!
//! and ends with `comptime { o.exportModule(@This()); }`. This file turns that into the exported symbols:
//! it decodes requests, gives each call an arena, turns failures into msgpack error bodies `{code,
//! message}` and owns the memory handed across the boundary (`std.heap.c_allocator`, freed by `o_free`).
//!
//! Calls may arrive on several threads at once (Deno runs `nonblocking` symbols on a thread pool): a
//! module guards its own state.

const std = @import("std");
const assert = std.debug.assert;
pub const msgpack = @import("msgpack.zig");
pub const Value = msgpack.Value;
pub const Writer = msgpack.Writer;

/// The ABI revision this file implements; `o_abi_version` returns it and loaders refuse any other.
pub const abi_version: u32 = 1;

/// `o_flags` bit: a call may wait on I/O (network), so the loader must never run it on the event loop.
pub const flag_blocking: u32 = 1;

/// Longest error message kept; longer ones are cut (a message is for people, not a payload).
pub const message_bytes_max: usize = 1024;
/// Longest error code kept.
pub const code_bytes_max: usize = 64;

/// `o_call` results. 0 is success; every other value comes with a msgpack error body in `out`.
pub const status_ok: i32 = 0;
/// The module refused the request (`Call.fail`): the body says why.
pub const status_failed: i32 = 1;
/// The request was not valid msgpack.
pub const status_bad_request: i32 = 2;
/// An allocation failed.
pub const status_out_of_memory: i32 = 3;
/// The module returned an error it did not describe (a bug or an unexpected library failure).
pub const status_internal: i32 = 4;
/// `o_call` before a successful `o_init`, or after `o_shutdown`.
pub const status_not_initialized: i32 = 5;

pub const allocator = std.heap.c_allocator;

comptime {
    assert(message_bytes_max >= 64);
    assert(code_bytes_max >= 16);
    assert(status_ok == 0);
}

/// One call's context: an arena that dies with the call, and the error it may end with.
pub const Call = struct {
    arena: std.mem.Allocator,
    code: [code_bytes_max]u8 = undefined,
    code_len: usize = 0,
    message: [message_bytes_max]u8 = undefined,
    message_len: usize = 0,

    /// Records an expected failure; return the result from the handler (`return call.fail(...)`).
    pub fn fail(call: *Call, code: []const u8, comptime fmt: []const u8, args: anytype) error{Failed} {
        assert(code.len > 0);
        call.code_len = @min(code.len, code_bytes_max);
        @memcpy(call.code[0..call.code_len], code[0..call.code_len]);
        const written = std.fmt.bufPrint(&call.message, fmt, args) catch blk: {
            // The message did not fit: keep what did, marked as cut.
            const tail = "...";
            @memcpy(call.message[message_bytes_max - tail.len ..], tail);
            break :blk call.message[0..];
        };
        call.message_len = written.len;
        return error.Failed;
    }

    /// A required string field of a request map.
    pub fn str(call: *Call, request: Value, key: []const u8) error{Failed}![]const u8 {
        const field = request.get(key) orelse return call.fail("BAD_REQUEST", "missing field '{s}'", .{key});
        return field.asStr() orelse return call.fail("BAD_REQUEST", "field '{s}' must be a string", .{key});
    }

    /// A required integer field of a request map.
    pub fn int(call: *Call, request: Value, key: []const u8) error{Failed}!i64 {
        const field = request.get(key) orelse return call.fail("BAD_REQUEST", "missing field '{s}'", .{key});
        return field.asInt() orelse return call.fail("BAD_REQUEST", "field '{s}' must be an integer", .{key});
    }

    /// An optional integer field with a default.
    pub fn intOr(call: *Call, request: Value, key: []const u8, default: i64) error{Failed}!i64 {
        const field = request.get(key) orelse return default;
        if (field == .nil) return default;
        return field.asInt() orelse return call.fail("BAD_REQUEST", "field '{s}' must be an integer", .{key});
    }

    /// A null-terminated copy of a string field, for C APIs.
    pub fn strZ(call: *Call, request: Value, key: []const u8) ![:0]const u8 {
        return call.arena.dupeZ(u8, try call.str(request, key));
    }
};

/// Writes `{code, message}`.
pub fn writeErrorBody(out: *Writer, code: []const u8, message: []const u8) !void {
    try out.mapHeader(2);
    try out.str("code");
    try out.str(code);
    try out.str("message");
    try out.str(message);
}

/// Hands `out`'s bytes to the caller, who frees them with `o_free`.
fn publish(out: *Writer, out_ptr: *[*]u8, out_len: *usize) !void {
    const bytes = try out.list.toOwnedSlice();
    assert(bytes.len > 0);
    out_ptr.* = bytes.ptr;
    out_len.* = bytes.len;
}

/// Writes an error body for `status` and publishes it; returns `status` (or out-of-memory when even
/// that fails, with nothing published).
fn publishError(status: i32, code: []const u8, message: []const u8, out_ptr: *[*]u8, out_len: *usize) i32 {
    assert(status != status_ok);
    var out = Writer.init(allocator);
    defer out.deinit();
    writeErrorBody(&out, code, message) catch {
        out_len.* = 0;
        return status_out_of_memory;
    };
    publish(&out, out_ptr, out_len) catch {
        out_len.* = 0;
        return status_out_of_memory;
    };
    return status;
}

fn bytesOf(ptr: ?[*]const u8, len: usize) []const u8 {
    if (len == 0) return &[_]u8{};
    return ptr.?[0..len];
}

/// Exports the ABI for module `M`. Call it from a `comptime` block in the module's file.
pub fn exportModule(comptime M: type) void {
    comptime {
        assert(M.version.len > 0);
    }
    const Abi = struct {
        var initialized = std.atomic.Atomic(bool).init(false);

        fn oAbiVersion() callconv(.C) u32 {
            return abi_version;
        }

        fn oFlags() callconv(.C) u32 {
            return M.flags;
        }

        fn oVersion() callconv(.C) [*:0]const u8 {
            return M.version.ptr;
        }

        fn oInit(config_ptr: ?[*]const u8, config_len: usize) callconv(.C) i32 {
            var arena = std.heap.ArenaAllocator.init(allocator);
            defer arena.deinit();
            var call = Call{ .arena = arena.allocator() };
            const bytes = bytesOf(config_ptr, config_len);
            const config = if (bytes.len == 0) Value.nil else msgpack.decode(call.arena, bytes) catch
                return status_bad_request;
            M.init(&call, config) catch |err| return statusOf(err);
            initialized.store(true, .SeqCst);
            return status_ok;
        }

        fn oShutdown() callconv(.C) void {
            if (!initialized.swap(false, .SeqCst)) return;
            M.shutdown();
        }

        fn oCall(req_ptr: ?[*]const u8, req_len: usize, out_ptr: *[*]u8, out_len: *usize) callconv(.C) i32 {
            if (!initialized.load(.SeqCst)) {
                return publishError(status_not_initialized, "NOT_INITIALIZED", "o_init has not succeeded", out_ptr, out_len);
            }
            var arena = std.heap.ArenaAllocator.init(allocator);
            defer arena.deinit();
            var call = Call{ .arena = arena.allocator() };
            const request = msgpack.decode(call.arena, bytesOf(req_ptr, req_len)) catch |err| {
                return publishError(status_bad_request, "BAD_REQUEST", @errorName(err), out_ptr, out_len);
            };
            var out = Writer.init(allocator);
            defer out.deinit();
            if (request == .nil) {
                // A nil request is a ping answered here: it measures the boundary alone.
                out.nil() catch return publishError(status_out_of_memory, "OUT_OF_MEMORY", "ping", out_ptr, out_len);
            } else {
                M.handle(&call, request, &out) catch |err| return failed(&call, err, out_ptr, out_len);
            }
            publish(&out, out_ptr, out_len) catch {
                return publishError(status_out_of_memory, "OUT_OF_MEMORY", "cannot publish the response", out_ptr, out_len);
            };
            return status_ok;
        }

        fn oFree(ptr: ?[*]u8, len: usize) callconv(.C) void {
            if (len == 0) return;
            allocator.free(ptr.?[0..len]);
        }

        fn oStateSave(out_ptr: *[*]u8, out_len: *usize) callconv(.C) i32 {
            var arena = std.heap.ArenaAllocator.init(allocator);
            defer arena.deinit();
            var call = Call{ .arena = arena.allocator() };
            var out = Writer.init(allocator);
            defer out.deinit();
            M.stateSave(&call, &out) catch |err| return failed(&call, err, out_ptr, out_len);
            publish(&out, out_ptr, out_len) catch return status_out_of_memory;
            return status_ok;
        }

        fn oStateLoad(state_ptr: ?[*]const u8, state_len: usize) callconv(.C) i32 {
            var arena = std.heap.ArenaAllocator.init(allocator);
            defer arena.deinit();
            var call = Call{ .arena = arena.allocator() };
            const bytes = bytesOf(state_ptr, state_len);
            const state = if (bytes.len == 0) Value.nil else msgpack.decode(call.arena, bytes) catch
                return status_bad_request;
            M.stateLoad(&call, state) catch |err| return statusOf(err);
            return status_ok;
        }
    };
    @export(Abi.oAbiVersion, .{ .name = "o_abi_version", .linkage = .Strong });
    @export(Abi.oFlags, .{ .name = "o_flags", .linkage = .Strong });
    @export(Abi.oVersion, .{ .name = "o_version", .linkage = .Strong });
    @export(Abi.oInit, .{ .name = "o_init", .linkage = .Strong });
    @export(Abi.oShutdown, .{ .name = "o_shutdown", .linkage = .Strong });
    @export(Abi.oCall, .{ .name = "o_call", .linkage = .Strong });
    @export(Abi.oFree, .{ .name = "o_free", .linkage = .Strong });
    @export(Abi.oStateSave, .{ .name = "o_state_save", .linkage = .Strong });
    @export(Abi.oStateLoad, .{ .name = "o_state_load", .linkage = .Strong });
}

fn statusOf(err: anyerror) i32 {
    return switch (err) {
        error.Failed => status_failed,
        error.OutOfMemory => status_out_of_memory,
        else => status_internal,
    };
}

fn failed(call: *Call, err: anyerror, out_ptr: *[*]u8, out_len: *usize) i32 {
    const status = statusOf(err);
    return switch (status) {
        status_failed => publishError(status, call.code[0..call.code_len], call.message[0..call.message_len], out_ptr, out_len),
        status_out_of_memory => publishError(status, "OUT_OF_MEMORY", "an allocation failed", out_ptr, out_len),
        else => publishError(status, "INTERNAL", @errorName(err), out_ptr, out_len),
    };
}

/// Encodes a Zig value (tuples → arrays, structs → maps, string literals → str) as msgpack; for tests and
/// for building requests at compile time.
pub fn writeAny(out: *Writer, v: anytype) !void {
    const T = @TypeOf(v);
    switch (@typeInfo(T)) {
        .Null => try out.nil(),
        .Bool => try out.boolean(v),
        .ComptimeInt => try out.int(v),
        .Int => try out.int(@as(i64, @intCast(v))),
        .ComptimeFloat => try out.float(v),
        .Float => try out.float(@as(f64, @floatCast(v))),
        .Optional => if (v) |inner| try writeAny(out, inner) else try out.nil(),
        .Pointer => |p| {
            if (p.size == .Slice and p.child == u8) return out.str(v);
            if (p.size == .One and @typeInfo(p.child) == .Array and @typeInfo(p.child).Array.child == u8) return out.str(v);
            if (p.size == .Slice) {
                try out.arrayHeader(v.len);
                for (v) |item| try writeAny(out, item);
                return;
            }
            @compileError("writeAny: unsupported pointer type " ++ @typeName(T));
        },
        .Struct => |s| {
            if (s.is_tuple) {
                try out.arrayHeader(s.fields.len);
                inline for (s.fields) |f| try writeAny(out, @field(v, f.name));
            } else {
                try out.mapHeader(s.fields.len);
                inline for (s.fields) |f| {
                    try out.str(f.name);
                    try writeAny(out, @field(v, f.name));
                }
            }
        },
        else => @compileError("writeAny: unsupported type " ++ @typeName(T)),
    }
}

/// Test helper: runs `M.handle` on `request` (any value `writeAny` takes) and decodes the answer. On a
/// module failure it prints the code and message and returns `error.Failed`.
pub fn testCall(comptime M: type, arena: std.mem.Allocator, request: anytype) !Value {
    var call = Call{ .arena = arena };
    var out = Writer.init(arena);
    var in = Writer.init(arena);
    try writeAny(&in, request);
    M.handle(&call, try msgpack.decode(arena, in.list.items), &out) catch |err| {
        if (err == error.Failed) std.debug.print("{s}: {s}\n", .{ call.code[0..call.code_len], call.message[0..call.message_len] });
        return err;
    };
    return msgpack.decode(arena, out.list.items);
}

/// Test helper: runs `M.handle` on `request`, which must fail; returns the error code.
pub fn testCallCode(comptime M: type, arena: std.mem.Allocator, request: anytype) ![]const u8 {
    var call = Call{ .arena = arena };
    var out = Writer.init(arena);
    var in = Writer.init(arena);
    try writeAny(&in, request);
    M.handle(&call, try msgpack.decode(arena, in.list.items), &out) catch |err| {
        if (err != error.Failed) return err;
        return arena.dupe(u8, call.code[0..call.code_len]);
    };
    return error.TestExpectedFailure;
}

test {
    _ = msgpack;
}

test "Call.fail keeps code and message, and cuts a long message" {
    var call = Call{ .arena = std.testing.allocator };
    try std.testing.expectError(error.Failed, @as(error{Failed}!void, call.fail("X", "n={d}", .{7})));
    try std.testing.expectEqualStrings("X", call.code[0..call.code_len]);
    try std.testing.expectEqualStrings("n=7", call.message[0..call.message_len]);
    const long = "y" ** (message_bytes_max + 10);
    try std.testing.expectError(error.Failed, @as(error{Failed}!void, call.fail("LONG", "{s}", .{long})));
    try std.testing.expectEqual(message_bytes_max, call.message_len);
    try std.testing.expect(std.mem.endsWith(u8, call.message[0..call.message_len], "..."));
}
