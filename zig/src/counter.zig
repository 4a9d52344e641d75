//! A stateful test module for hot reload: a counter whose state must survive every reload.
//!
//! Built twice (build option `counter_version`: "1.0.0" and "2.0.0") so that tests can swap between two
//! real versions, and once more with `counter_broken` set, whose `o_init` always fails: a reload onto it
//! must be refused with the old version still serving.
//!
//! Requests: `{op:"inc", by?}` → `{count, version}`; `{op:"get"}` → `{count, loads, version}`;
//! `{op:"echo", value}` → value; `{op:"fail"}` → a `COUNTER_FAIL` error (tests error bodies).

const std = @import("std");
const o = @import("o.zig");
const options = @import("build_options");

pub const version: [:0]const u8 = std.fmt.comptimePrint("{s}", .{options.counter_version});
pub const flags: u32 = 0;

/// Largest step of one `inc`; larger steps are refused so the count cannot overflow in a few calls.
const step_max: i64 = 1 << 32;

var mutex = std.Thread.Mutex{};
var count: i64 = 0;
/// How many times this counter's state was carried over a reload (v2 counts them; v1 keeps them).
var loads: i64 = 0;

pub fn init(call: *o.Call, config: o.Value) !void {
    if (options.counter_broken) return call.fail("BROKEN", "this build refuses to start", .{});
    mutex.lock();
    defer mutex.unlock();
    count = if (config.get("start")) |start| start.asInt() orelse 0 else 0;
    loads = 0;
}

pub fn shutdown() void {
    mutex.lock();
    defer mutex.unlock();
    count = 0;
}

pub fn handle(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    const op = try call.str(request, "op");
    if (std.mem.eql(u8, op, "echo")) {
        return out.value(request.get("value") orelse .nil);
    }
    if (std.mem.eql(u8, op, "fail")) {
        return call.fail("COUNTER_FAIL", "failed on request (version {s})", .{version});
    }
    mutex.lock();
    defer mutex.unlock();
    if (std.mem.eql(u8, op, "inc")) {
        const by = try call.intOr(request, "by", 1);
        if (by < -step_max or by > step_max) return call.fail("BAD_REQUEST", "step {d} is out of range", .{by});
        count += by;
    } else if (!std.mem.eql(u8, op, "get")) {
        return call.fail("UNKNOWN_OP", "unknown op '{s}'", .{op});
    }
    try out.mapHeader(3);
    try out.str("count");
    try out.int(count);
    try out.str("loads");
    try out.int(loads);
    try out.str("version");
    try out.str(version);
}

pub fn stateSave(call: *o.Call, out: *o.Writer) !void {
    _ = call;
    mutex.lock();
    defer mutex.unlock();
    try out.mapHeader(2);
    try out.str("count");
    try out.int(count);
    try out.str("loads");
    try out.int(loads);
}

pub fn stateLoad(call: *o.Call, state: o.Value) !void {
    const saved_count = try call.int(state, "count");
    const saved_loads = try call.intOr(state, "loads", 0);
    mutex.lock();
    defer mutex.unlock();
    count = saved_count;
    loads = saved_loads + 1;
}

comptime {
    o.exportModule(@This());
}

test "counter: inc, state save and load" {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    var call = o.Call{ .arena = arena.allocator() };
    try init(&call, .nil);
    var out = o.Writer.init(std.testing.allocator);
    defer out.deinit();
    const entries = [_]o.msgpack.Entry{
        .{ .key = .{ .str = "op" }, .value = .{ .str = "inc" } },
        .{ .key = .{ .str = "by" }, .value = .{ .int = 5 } },
    };
    try handle(&call, .{ .map = &entries }, &out);
    const answer = try o.msgpack.decode(call.arena, out.list.items);
    try std.testing.expectEqual(@as(i64, 5), answer.get("count").?.asInt().?);

    var saved = o.Writer.init(std.testing.allocator);
    defer saved.deinit();
    try stateSave(&call, &saved);
    shutdown();
    try stateLoad(&call, try o.msgpack.decode(call.arena, saved.list.items));
    try std.testing.expectEqual(@as(i64, 5), count);
    try std.testing.expectEqual(@as(i64, 1), loads);
}
