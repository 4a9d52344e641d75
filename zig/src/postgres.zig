const std = @import("std");
const o = @import("o.zig");
pub const version: [:0]const u8 = "0.0.1";
pub const flags: u32 = 0;
pub fn init(call: *o.Call, config: o.Value) !void {
    _ = call;
    _ = config;
}
pub fn shutdown() void {}
pub fn handle(call: *o.Call, request: o.Value, out: *o.Writer) !void {
    _ = request;
    _ = out;
    return call.fail("NOT_IMPLEMENTED", "stub", .{});
}
pub fn stateSave(call: *o.Call, out: *o.Writer) !void {
    _ = call;
    try out.nil();
}
pub fn stateLoad(call: *o.Call, state: o.Value) !void {
    _ = call;
    _ = state;
}
comptime {
    o.exportModule(@This());
}
